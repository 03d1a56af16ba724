package app

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: Config{Addr: ":8080", Drain: DefaultDrain, ShutdownTimeout: DefaultShutdownTimeout}},
		{name: "env port and V2", env: map[string]string{"PORT": "9000", "V2": "1"},
			want: Config{Addr: ":9000", V2: true, Drain: DefaultDrain, ShutdownTimeout: DefaultShutdownTimeout}},
		{name: "flag wins", args: []string{"-port", "9001", "-drain", "250ms"}, env: map[string]string{"PORT": "9000", "DRAIN": "9s"},
			want: Config{Addr: ":9001", Drain: 250 * time.Millisecond, ShutdownTimeout: DefaultShutdownTimeout}},
		{name: "V2 false spelled out", env: map[string]string{"V2": " false "},
			want: Config{Addr: ":8080", Drain: DefaultDrain, ShutdownTimeout: DefaultShutdownTimeout}},
		{name: "drain zero", env: map[string]string{"DRAIN": "0s"},
			want: Config{Addr: ":8080", ShutdownTimeout: DefaultShutdownTimeout}},
		{name: "faults and release", env: map[string]string{"FAIL_RATE": "0.3", "DELAY": "5ms", "ARCHWAY_RELEASE": "r-20261201-143015"},
			want: Config{Addr: ":8080", Drain: DefaultDrain, ShutdownTimeout: DefaultShutdownTimeout,
				Faults: Faults{FailRate: 0.3, FailStatus: 500, Delay: 5 * time.Millisecond}, Release: "r-20261201-143015"}},
		{name: "bad FAIL_RATE", env: map[string]string{"FAIL_RATE": "1.5"}, wantErr: `FAIL_RATE="1.5": want a number from 0 to 1`},
		{name: "bad ARCHWAY_RELEASE", env: map[string]string{"ARCHWAY_RELEASE": "r1\n"}, wantErr: `ARCHWAY_RELEASE="r1\n": want at most 64 printable characters`},
		{name: "bad PORT", env: map[string]string{"PORT": "http"}, wantErr: `PORT="http": want a port number 1-65535`},
		{name: "PORT out of range", env: map[string]string{"PORT": "65536"}, wantErr: `PORT="65536"`},
		{name: "bad -port", args: []string{"-port", "0"}, wantErr: `-port="0"`},
		{name: "bad V2", env: map[string]string{"V2": "maybe"}, wantErr: `V2="maybe": want 1/true or 0/false (empty means false)`},
		{name: "V2 yes is not a bool", env: map[string]string{"V2": "yes"}, wantErr: `V2="yes"`},
		{name: "bad DRAIN", env: map[string]string{"DRAIN": "3"}, wantErr: `DRAIN="3": want a duration`},
		{name: "negative -drain", args: []string{"-drain", "-1s"}, wantErr: `-drain="-1s"`},
		{name: "empty -drain", args: []string{"-drain="}, wantErr: `-drain="": want a duration`},
		{name: "bad -shutdown-timeout", args: []string{"-shutdown-timeout", "0s"}, wantErr: `-shutdown-timeout=0s: want a positive duration`},
		{name: "unknown flag", args: []string{"-colour", "blue"}, wantErr: `flag provided but not defined: -colour`},
		{name: "stray argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseConfig(c.args, envOf(c.env), io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := ParseConfig([]string{"-h"}, envOf(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-port", "-drain", "PORT, V2, DRAIN", "FAIL_RATE", "ARCHWAY_RELEASE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseV2(t *testing.T) {
	for raw, want := range map[string]bool{"": false, "1": true, "true": true, "TRUE": true, "t": true, "0": false, "False": false, " 1 ": true} {
		got, err := ParseV2(raw)
		if err != nil || got != want {
			t.Errorf("ParseV2(%q) = %v, %v; want %v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"maybe", "yes", "on", "2", "v2"} {
		if _, err := ParseV2(raw); err == nil {
			t.Errorf("ParseV2(%q) accepted", raw)
		}
	}
}
