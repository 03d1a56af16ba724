package proxy_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

const (
	writeToken = "write-token-0123456789abcdef"
	readToken  = "read-token-0123456789abcdef"
)

func adminRequest(t *testing.T, srv *httptest.Server, method, path, body, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestAdminAuthEveryRoute: every admin route without a token, with a wrong one, with
// the read-only one and with the admin token; a refused request changes nothing.
func TestAdminAuthEveryRoute(t *testing.T) {
	b, g := proxytest.NewBackend(t, "b"), proxytest.NewBackend(t, "g")
	var logs testutil.SyncBuffer
	p := proxytest.NewProxy(t, proxy.Options{
		AdminAuth: proxy.AdminAuth{Token: writeToken, ReadToken: readToken},
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	}, proxytest.Spec("BLUE", 4, b), proxytest.Spec("GREEN", 1, g))
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()

	routes := []struct {
		method, path, body string
		write              bool
		ok                 int // status with the right token
	}{
		{"GET", "/status", "", false, 200},
		{"GET", "/backends", "", false, 200},
		{"GET", "/backends/blue", "", false, 200},
		{"GET", "/metrics", "", false, 200},
		{"GET", "/ui", "", false, 200},
		{"PUT", "/backends/green", `{"weight": 2}`, true, 200},
		{"PUT", "/backends/canary", `{"url": "http://` + b.Addr + `"}`, true, 200},
		{"DELETE", "/backends/canary", "", true, 200},
		{"POST", "/backends/blue", "{}", true, 405},
		{"GET", "/nope", "", false, 404},
	}
	for _, r := range routes {
		before := fmt.Sprint(p.Backends())
		for _, c := range []struct {
			name, token string
			code        int
			challenge   string
		}{
			{"no token", "", 401, `Bearer realm="archway-proxy admin"`},
			{"wrong token", writeToken + "x", 401, `Bearer realm="archway-proxy admin", error="invalid_token"`},
			{"token prefix", writeToken[:20], 401, `Bearer realm="archway-proxy admin", error="invalid_token"`},
		} {
			resp, body := adminRequest(t, admin, r.method, r.path, r.body, c.token)
			if resp.StatusCode != c.code || resp.Header.Get("WWW-Authenticate") != c.challenge {
				t.Errorf("%s %s with %s: %d %q %s; want %d %q", r.method, r.path, c.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, c.code, c.challenge)
			}
			if after := fmt.Sprint(p.Backends()); after != before {
				t.Fatalf("%s %s with %s changed the backends: %s → %s", r.method, r.path, c.name, before, after)
			}
		}
		resp, body := adminRequest(t, admin, r.method, r.path, r.body, readToken)
		switch {
		case r.write && resp.StatusCode != 403:
			t.Errorf("%s %s with the read-only token: %d %s; want 403", r.method, r.path, resp.StatusCode, body)
		case r.write && fmt.Sprint(p.Backends()) != before:
			t.Fatalf("%s %s with the read-only token changed the backends", r.method, r.path)
		case !r.write && resp.StatusCode != r.ok:
			t.Errorf("%s %s with the read-only token: %d %s; want %d", r.method, r.path, resp.StatusCode, body, r.ok)
		}
		if resp, body := adminRequest(t, admin, r.method, r.path, r.body, writeToken); resp.StatusCode != r.ok {
			t.Errorf("%s %s with the admin token: %d %s; want %d", r.method, r.path, resp.StatusCode, body, r.ok)
		}
	}
	// /healthz is liveness only and needs no token.
	if resp, _ := adminRequest(t, admin, "GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("GET /healthz without a token: %d; want 200", resp.StatusCode)
	}
	// "bearer" is case-insensitive (RFC 6750); Basic credentials that do not decode
	// present no token.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", admin.URL+"/status", nil)
	req.Header.Set("Authorization", "bearer "+readToken)
	if resp, err := admin.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("lower-case scheme: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req.Header.Set("Authorization", "Basic "+writeToken)
	if resp, err := admin.Client().Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("Basic scheme without base64: %v %v; want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	out := logs.String()
	if strings.Contains(out, writeToken) || strings.Contains(out, readToken) || strings.Contains(out, writeToken[:20]) {
		t.Errorf("a token reached the log:\n%s", out)
	}
	var changes []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="admin change"`) {
			changes = append(changes, line)
		}
	}
	want := []string{
		`route="PUT /backends/green" colour=GREEN old="weight=1 urls=http://` + g.Addr + `" new="weight=2 urls=http://` + g.Addr + `" client=127.0.0.1:`,
		`route="PUT /backends/canary" colour=CANARY old=none new="weight=1 urls=http://` + b.Addr + `" client=127.0.0.1:`,
		`route="DELETE /backends/canary" colour=CANARY old="weight=1 urls=http://` + b.Addr + `" new=none client=127.0.0.1:`,
	}
	if len(changes) != len(want) {
		t.Fatalf("change log lines: %d, want %d:\n%s", len(changes), len(want), strings.Join(changes, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(changes[i], w) {
			t.Errorf("change line %d:\n got  %s\n want …%s…", i, changes[i], w)
		}
	}
}

// TestAdminWithoutTokenAnswersOnlyLocalhost: with no token (a loopback listener) a
// request naming another Host — a DNS-rebinding page in the operator's browser — is
// refused, and nothing changes.
func TestAdminWithoutTokenAnswersOnlyLocalhost(t *testing.T) {
	b := proxytest.NewBackend(t, "b")
	p := proxytest.NewProxy(t, proxy.Options{}, proxytest.Spec("BLUE", 1, b), proxytest.Spec("GREEN", 1, b))
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	for _, c := range []struct {
		host string
		code int
	}{
		{"127.0.0.1:8990", 200}, {"localhost:8990", 200}, {"LOCALHOST", 200}, {"[::1]:8990", 200}, {"127.1.2.3", 200},
		{"attacker.example:8990", 403}, {"10.0.0.5:8990", 403}, {"localhost.attacker.example", 403}, {"127.0.0.1.nip.io", 403},
	} {
		for _, m := range []struct{ method, body string }{{"GET", ""}, {"PUT", `{"weight": 3}`}} {
			before := fmt.Sprint(p.Backends())
			req, _ := http.NewRequestWithContext(t.Context(), m.method, admin.URL+"/backends/green", strings.NewReader(m.body))
			req.Host = c.host
			resp, err := admin.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("%s with Host %q: %d %s; want %d", m.method, c.host, resp.StatusCode, body, c.code)
			}
			if c.code == 403 && fmt.Sprint(p.Backends()) != before {
				t.Fatalf("a refused Host %q changed the backends", c.host)
			}
		}
	}
}

// TestAdminRefusesLinkLocalMembers: the admin API does not steer traffic to a cloud
// metadata address.
func TestAdminRefusesLinkLocalMembers(t *testing.T) {
	b := proxytest.NewBackend(t, "b")
	p := proxytest.NewProxy(t, proxy.Options{}, proxytest.Spec("BLUE", 1, b))
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	for _, u := range []string{"http://169.254.169.254", "http://169.254.169.254:80/latest", "http://[fe80::1]:8080", "http://[fe80::1%25eth0]:80", "http://[::ffff:169.254.169.254]:80"} {
		code, body := proxytest.AdminDo(t, admin, "PUT", "/backends/blue", `{"url": "`+u+`"}`)
		if code != 400 || !strings.Contains(body, "link-local address") {
			t.Errorf("PUT url %s: %d %s; want 400 naming the link-local address", u, code, body)
		}
	}
}

// basicRequest is adminRequest with Basic credentials (user, password).
func basicRequest(t *testing.T, srv *httptest.Server, method, path, body, user, password string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestAdminBasicAuth: a browser's Basic credentials with the token as the password
// (any user name) get exactly the token's scope; a 401 on /ui asks the browser for them.
func TestAdminBasicAuth(t *testing.T) {
	b := proxytest.NewBackend(t, "b")
	var logs testutil.SyncBuffer
	p := proxytest.NewProxy(t, proxy.Options{
		AdminAuth: proxy.AdminAuth{Token: writeToken, ReadToken: readToken},
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	}, proxytest.Spec("BLUE", 1, b), proxytest.Spec("GREEN", 1, b))
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()

	for _, c := range []struct {
		name, method, path, body, user, password string
		code                                     int
	}{
		{"read token, GET /status", "GET", "/status", "", "operator", readToken, 200},
		{"read token, no user name", "GET", "/status", "", "", readToken, 200},
		{"read token, GET /ui", "GET", "/ui", "", "operator", readToken, 200},
		{"admin token, GET /ui", "GET", "/ui", "", "operator", writeToken, 200},
		{"admin token, GET /status", "GET", "/status", "", "x", writeToken, 200},
		{"admin token, PUT", "PUT", "/backends/green", `{"weight": 2}`, "x", writeToken, 200},
		{"read token, PUT", "PUT", "/backends/green", `{"weight": 3}`, "x", readToken, 403},
		{"read token, DELETE", "DELETE", "/backends/green", "", "x", readToken, 403},
		{"wrong password", "GET", "/status", "", "x", readToken + "x", 401},
		{"token as user name", "GET", "/status", "", readToken, "", 401},
		{"empty credentials", "GET", "/status", "", "", "", 401},
	} {
		before := fmt.Sprint(p.Backends())
		resp, body := basicRequest(t, admin, c.method, c.path, c.body, c.user, c.password)
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d %s; want %d", c.name, resp.StatusCode, body, c.code)
		}
		if c.code != 200 && fmt.Sprint(p.Backends()) != before {
			t.Fatalf("%s: a refused request changed the backends", c.name)
		}
		if c.code == 401 && resp.Header.Values("WWW-Authenticate")[0] != `Bearer realm="archway-proxy admin", error="invalid_token"` {
			t.Errorf("%s: challenge %q", c.name, resp.Header.Values("WWW-Authenticate"))
		}
	}
	if got := p.Backends()[1].Weight; got != 2 {
		t.Errorf("GREEN weight %d; want 2 from the admin token's PUT only", got)
	}
	// Basic without a colon in the decoded credentials is no token.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", admin.URL+"/status", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(readToken)))
	if resp, err := admin.Client().Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("Basic without a colon: %v %v; want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// A browser opening /ui without credentials, or with wrong ones, is asked for Basic
	// ones; the JSON routes only name Bearer.
	for _, c := range []struct {
		path, password string
		want           []string
	}{
		{"/ui", "", []string{`Bearer realm="archway-proxy admin"`, `Basic realm="archway-proxy admin"`}},
		{"/ui", "wrong-password-0123456789", []string{`Bearer realm="archway-proxy admin", error="invalid_token"`, `Basic realm="archway-proxy admin"`}},
		{"/status", "", []string{`Bearer realm="archway-proxy admin"`}},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", admin.URL+c.path, nil)
		if c.password != "" {
			req.SetBasicAuth("x", c.password)
		}
		resp, err := admin.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != 401 || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("GET %s password %q: %d %q; want 401 %q", c.path, c.password, resp.StatusCode, got, c.want)
		}
	}
	if out := logs.String(); strings.Contains(out, readToken) || strings.Contains(out, writeToken) {
		t.Errorf("a token reached the log:\n%s", out)
	}
}
