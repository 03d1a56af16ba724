package app

import "testing"

func TestWantsJSON(t *testing.T) {
	cases := map[string]bool{
		"":    false,
		"*/*": false, // curl
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false, // browsers
		"application/json":                   true,
		"application/json, text/plain, */*":  true, // axios lists its preference first
		"text/plain, application/json":       false,
		"application/json;q=0.5, text/plain": false,
		"text/plain;q=0.2, application/json": true,
		"application/json, */*":              true, // concrete type beats wildcard
		"application/json;q=0":               false,
		"APPLICATION/JSON":                   true,
	}
	for accept, want := range cases {
		if got := wantsJSON(accept); got != want {
			t.Errorf("wantsJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}
