package proxy

import (
	"net/url"
	"testing"
)

func TestNeedsDNS(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://tasks.myapp-v1:8080": true, "dns+http://app:80": true, "dns+https://app": true,
		"http://myapp-v1:8080": false, "https://example.com": false, "http://mytasks.x:1": false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := needsDNS(u); got != want {
			t.Errorf("needsDNS(%s) = %v", raw, got)
		}
	}
}
