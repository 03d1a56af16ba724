package swarmprovider

import (
	"errors"
	"strings"
	"testing"

	"github.com/archwayhq/archway/proxy"
)

func TestParseLabels(t *testing.T) {
	tests := []struct {
		name    string
		labels  map[string]string
		want    serviceLabels
		backend bool
		errSub  string // "" = no error; else the error must contain it
	}{
		{name: "not a backend", labels: map[string]string{"foo": "bar"}},
		{name: "blue weight 4", labels: map[string]string{LabelColor: "blue", LabelWeight: "4"}, backend: true,
			want: serviceLabels{color: "BLUE", weight: 4}},
		{name: "weight zero is valid (promote/rollback)", labels: map[string]string{LabelColor: "Green", LabelWeight: "0"}, backend: true,
			want: serviceLabels{color: "GREEN", weight: 0}},
		{name: "port", labels: map[string]string{LabelColor: "canary-2", LabelWeight: " 1 ", LabelPort: "8080"}, backend: true,
			want: serviceLabels{color: "CANARY-2", weight: 1, port: 8080}},
		{name: "negative weight", labels: map[string]string{LabelColor: "blue", LabelWeight: "-1"}, backend: true,
			errSub: `service "svc": label archway.weight="-1"`},
		{name: "word weight", labels: map[string]string{LabelColor: "blue", LabelWeight: "abc"}, backend: true,
			errSub: `label archway.weight="abc"`},
		{name: "huge weight", labels: map[string]string{LabelColor: "blue", LabelWeight: "99999999999"}, backend: true,
			errSub: `label archway.weight="99999999999"`},
		{name: "missing weight", labels: map[string]string{LabelColor: "blue"}, backend: true,
			errSub: `label archway.weight="": missing`},
		{name: "empty colour", labels: map[string]string{LabelColor: " ", LabelWeight: "1"}, backend: true,
			errSub: `label archway.color=" "`},
		{name: "colour starting with a digit", labels: map[string]string{LabelColor: "2nd", LabelWeight: "1"}, backend: true,
			errSub: `label archway.color="2nd": ` + proxy.ColourRule},
		{name: "colour of 64 characters", labels: map[string]string{LabelColor: strings.Repeat("b", 64), LabelWeight: "1"}, backend: true,
			errSub: `label archway.color="` + strings.Repeat("b", 64) + `": ` + proxy.ColourRule},
		{name: "weight at the proxy's maximum", labels: map[string]string{LabelColor: "blue", LabelWeight: "10000"}, backend: true,
			want: serviceLabels{color: "BLUE", weight: 10000}},
		{name: "weight above the proxy's maximum", labels: map[string]string{LabelColor: "blue", LabelWeight: "10001"}, backend: true,
			errSub: `label archway.weight="10001"`},
		{name: "colour with space", labels: map[string]string{LabelColor: "bl ue", LabelWeight: "1"}, backend: true,
			errSub: `label archway.color="bl ue"`},
		{name: "bad port", labels: map[string]string{LabelColor: "blue", LabelWeight: "1", LabelPort: "70000"}, backend: true,
			errSub: `label archway.port="70000"`},
		{name: "port zero", labels: map[string]string{LabelColor: "blue", LabelWeight: "1", LabelPort: "0"}, backend: true,
			errSub: `label archway.port="0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, backend, err := parseLabels("svc", tt.labels)
			if backend != tt.backend {
				t.Fatalf("backend = %v, want %v", backend, tt.backend)
			}
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errSub)
				}
				var le *LabelError
				if !errors.As(err, &le) || le.Service != "svc" {
					t.Fatalf("err %T %v is not a *LabelError for service svc", err, err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
