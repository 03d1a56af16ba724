package proxy

import (
	"strings"
	"testing"
)

// FuzzAdminBody: any PUT body either parses into a valid patch or fails with one line.
func FuzzAdminBody(f *testing.F) {
	for _, s := range []string{`{"weight": 4}`, `{"url": "http://x:1"}`, `{"url": "dns+http://tasks.a:8080,http://b:2", "weight": 0}`, `[]`, `{"weight": 1e3}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		patch, err := parseBackendPatch([]byte(body))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if patch.urls == nil && patch.weight == nil {
			t.Fatalf("accepted empty patch from %q", body)
		}
		if patch.weight != nil && (*patch.weight < 0 || *patch.weight > MaxWeight) {
			t.Fatalf("accepted weight %d", *patch.weight)
		}
		if patch.urls != nil {
			if _, err := normalizeSpecs([]BackendSpec{{Name: "X", Weight: 1, Members: patch.urls}}); err != nil {
				t.Fatalf("accepted URLs the proxy refuses: %v", err)
			}
		}
	})
}
