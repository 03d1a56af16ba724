package proxy_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

func TestAdminBadInputs(t *testing.T) {
	b, g := proxytest.NewBackend(t, "b"), proxytest.NewBackend(t, "g")
	p := proxytest.NewProxy(t, proxy.Options{}, proxytest.Spec("BLUE", 4, b), proxytest.Spec("GREEN", 1, g))
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	before := p.Backends()

	cases := []struct {
		method, path, body string
		code               int
		err                string
	}{
		{"PUT", "/backends/green", `{"weight": -1}`, 400, `weight="-1": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"weight": 99999999999999999999}`, 400, `weight="99999999999999999999": weight must be <= 10000`},
		{"PUT", "/backends/green", `{"weight": 1, "url": "http://b:1/` + strings.Repeat("x", 64<<10) + `"}`, 413, `body: larger than 64 KiB; want one small JSON object like {"weight": 1}`},
		{"PUT", "/backends/" + strings.Repeat("n", 64), `{"weight": 1}`, 400, `name="` + strings.Repeat("n", 64) + `": must match [A-Za-z][A-Za-z0-9_-]* and be at most 63 characters`},
		{"PUT", "/backends/green", `{"weight": "3"}`, 400, `weight="3": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"weight": 2.5}`, 400, `weight="2.5": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"weight": 10001}`, 400, `weight="10001": weight must be <= 10000`},
		{"PUT", "/backends/green", `{"url": "htp://x:1"}`, 400, `url="htp://x:1": unsupported scheme "htp"; want http, https, dns+http or dns+https`},
		{"PUT", "/backends/green", `{"url": "http://:8080"}`, 400, `url="http://:8080": missing host; want http://host:port`},
		{"PUT", "/backends/green", `{"url": "http://x:99999"}`, 400, `url="http://x:99999": port "99999" out of range 1-65535`},
		{"PUT", "/backends/green", `{"url": "http://x:1,http://x:1"}`, 400, `url="http://x:1,http://x:1": member http://x:1 listed twice (first as http://x:1)`},
		{"PUT", "/backends/green", `{"url": 5}`, 400, `url=5: want a string like "http://host:port"`},
		{"PUT", "/backends/green", `{"url": "http://x:1", "weight": -2}`, 400, `weight="-2": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"colour": "x"}`, 400, `body: unknown field "colour"; want "url" and/or "weight"`},
		{"PUT", "/backends/green", `{}`, 400, `body: empty object; want "url" and/or "weight"`},
		{"PUT", "/backends/green", `[1]`, 400, `body: invalid JSON (json: cannot unmarshal array into Go value of type map[string]json.RawMessage); want {"url": "http://host:port", "weight": N}`},
		{"PUT", "/backends/green", `{"weight":`, 400, `body: invalid JSON (unexpected end of JSON input); want {"url": "http://host:port", "weight": N}`},
		{"PUT", "/backends/bad%20name", `{"weight": 1}`, 400, `name="bad name": must match [A-Za-z][A-Za-z0-9_-]* and be at most 63 characters`},
		{"PUT", "/backends/purple", `{"weight": 1}`, 404, `backend "PURPLE" not found; PUT {"url": ...} to create it`},
		{"DELETE", "/backends/purple", ``, 404, `backend "PURPLE" not found`},
		{"GET", "/backends/purple", ``, 404, `backend "PURPLE" not found`},
		{"PUT", "/backends/blue", `{"weight": 0}`, 200, ``}, // GREEN still has weight 1
		{"PUT", "/backends/green", `{"weight": 0}`, 409, `backends: every weight would be 0; at least one must be > 0 (BLUE=0 GREEN=0)`},
		{"DELETE", "/backends/green", ``, 409, `backends: every weight would be 0; at least one must be > 0 (BLUE=0)`},
		{"PUT", "/backends/blue", `{"weight": 4}`, 200, ``},
		{"POST", "/backends/blue", `{}`, 405, `method POST not allowed on /backends/blue`},
		{"GET", "/nope", ``, 404, `no such endpoint GET /nope`},
	}
	for _, c := range cases {
		code, body := proxytest.AdminDo(t, admin, c.method, c.path, c.body)
		if code != c.code {
			t.Errorf("%s %s %s: status %d, want %d (%s)", c.method, c.path, c.body, code, c.code, body)
			continue
		}
		if c.err == "" {
			continue
		}
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != c.err {
			t.Errorf("%s %s %s:\n got  %q\n want %q", c.method, c.path, c.body, e.Error, c.err)
		}
	}
	if after := p.Backends(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused/undone changes altered the config: %v → %v", before, after)
	}
	// Deleting the last colour is refused even when it has weight.
	p2 := proxytest.NewProxy(t, proxy.Options{}, proxytest.Spec("BLUE", 1, b))
	admin2 := httptest.NewServer(p2.AdminHandler())
	defer admin2.Close()
	if code, body := proxytest.AdminDo(t, admin2, "DELETE", "/backends/BLUE", ""); code != 409 || !strings.Contains(body, `backend \"BLUE\" is the last one; refusing to delete it`) {
		t.Errorf("delete last: %d %s", code, body)
	}
}

// TestUserInfoRefused: a member URL with user info is refused (neither engine would
// send it), from the configuration and from the admin API, and the password is never
// repeated in the error.
func TestUserInfoRefused(t *testing.T) {
	p := proxy.New(proxy.Options{Logger: proxytest.QuietLogger()})
	err := p.Apply([]proxy.BackendSpec{{Name: "BLUE", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, "http://user:s3cret@b:1")}}})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), `"http://user:xxxxx@b:1": user info (user:password@) is not sent to backends`) {
		t.Errorf("Apply: %v", err)
	}
	b := proxytest.NewBackend(t, "b")
	p = proxytest.NewProxy(t, proxy.Options{}, proxytest.Spec("BLUE", 1, b))
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	code, body := proxytest.AdminDo(t, admin, "PUT", "/backends/green", `{"url": "http://user:s3cret@b:1", "weight": 1}`)
	if code != 400 || strings.Contains(body, "s3cret") || !strings.Contains(body, "user info") {
		t.Errorf("PUT with user info: %d %s; want 400 naming user info, without the password", code, body)
	}
}
