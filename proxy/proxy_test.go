package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/archwayhq/archway/internal/server"
)

// TestConnectionColorCannotStripHeader sends "Connection: Color" over a raw connection:
// a Director-based proxy would set Color and then lose it to hop-by-hop removal
// (golang/go#50580); Rewrite sets it afterwards.
func TestConnectionColorCannotStripHeader(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := newBackend(t, "b1")
		p := newTestProxy(t, Options{Engine: engine}, spec("BLUE", 1, b))
		front := newFront(t, p)

		c, err := net.Dial("tcp", front.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: example.test\r\nConnection: Color, keep-alive\r\nColor: forged\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"color":"blue"`) {
			t.Fatalf("backend did not get Color: blue; body %s", body)
		}
		// And a client-sent Color header is replaced, not passed along.
		_, e, _ := get(t, front.Client(), front.URL+"/", http.Header{"Color": {"green"}})
		if e.Color != "blue" || len(e.Header["Color"]) != 1 {
			t.Fatalf("Color = %q (%v), want exactly blue", e.Color, e.Header["Color"])
		}
	})
}

func TestPathQueryAndForwardedHeaders(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := newBackend(t, "b1")
		// A base URL with a trailing slash, as in sillyproxy's GREEN=http://myapp-v2:8080/.
		s := BackendSpec{Name: "GREEN", Weight: 1, Members: []*url.URL{mustURL(t, "http://"+b.addr+"/")}}
		p := newTestProxy(t, Options{Engine: engine}, s)
		front := newFront(t, p)

		code, e, h := get(t, front.Client(), front.URL+"/api/v1/items/42?sort=desc&q=a%20b", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		if e.Path != "/api/v1/items/42" || e.Query != "sort=desc&q=a%20b" {
			t.Errorf("backend got path %q query %q", e.Path, e.Query)
		}
		if e.Color != "green" {
			t.Errorf("Color = %q, want green", e.Color)
		}
		xff := e.Header["X-Forwarded-For"]
		if len(xff) != 1 || xff[0] != "203.0.113.9, 127.0.0.1" {
			t.Errorf("X-Forwarded-For = %v, want the client chain plus 127.0.0.1", xff)
		}
		frontHost := strings.TrimPrefix(front.URL, "http://")
		if got := e.Header["X-Forwarded-Host"]; len(got) != 1 || got[0] != frontHost {
			t.Errorf("X-Forwarded-Host = %v, want %s", got, frontHost)
		}
		if got := e.Header["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "http" {
			t.Errorf("X-Forwarded-Proto = %v", got)
		}
		// Default Host is the backend's (go-proxy-multiarch's S3 target needs it).
		if e.Host != b.addr {
			t.Errorf("Host = %q, want the backend's %q", e.Host, b.addr)
		}
		if got := h.Get("X-Proxy"); got != "proxy-host" {
			t.Errorf("X-Proxy = %q, want proxy-host", got)
		}
	})
}

func TestPreserveHost(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := newBackend(t, "b1")
		p := newTestProxy(t, Options{Engine: engine, PreserveHost: true}, spec("BLUE", 1, b))
		front := newFront(t, p)
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = "shop.example"
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"host":"shop.example"`) {
			t.Fatalf("backend did not get the client's Host: %s", body)
		}
	})
}

func TestNoHealthyBackendIs503AtOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := newBackend(t, "b1")
		p := newTestProxy(t, Options{Engine: engine}, spec("BLUE", 1, b))
		for _, c := range p.snap.Load().colours {
			for _, m := range c.members {
				m.mu.Lock()
				m.activeDown = true
				m.setStateLocked()
				m.mu.Unlock()
				p.memberChanged(m)
			}
		}
		var ready server.Readiness
		ready.Set(true)
		ready.Check = p.Ready
		front := newFrontReady(t, p, &ready)
		resp, err := front.Client().Get(front.URL + "/anything")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || string(body) != "archway-proxy: no healthy backend\n" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("got %d %q, want 503 no healthy backend", resp.StatusCode, body)
		}
		// /readyz follows, /healthz stays up (liveness), neither is proxied.
		for path, want := range map[string]int{"/readyz": 503, "/healthz": 200} {
			resp, err := front.Client().Get(front.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s = %d, want %d", path, resp.StatusCode, want)
			}
		}
		if b.hits.Load() != 0 {
			t.Errorf("backend got %d requests while down", b.hits.Load())
		}
	})
}

func TestNonIdempotentNotRetried(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		bad := newBackend(t, "bad")
		bad.status.Store(502)
		good := newBackend(t, "good")
		p := newTestProxy(t, Options{Engine: engine}, spec("BLUE", 1, bad), spec("GREEN", 1, good))
		front := newFront(t, p)
		var saw502 bool
		for range 4 {
			resp, err := front.Client().Post(front.URL+"/", "text/plain", strings.NewReader("payload"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			saw502 = saw502 || resp.StatusCode == 502
		}
		if !saw502 {
			t.Fatal("POST was retried (or never hit the failing colour); want its 502 passed through")
		}
		if p.stats.retries.Load() != 0 {
			t.Fatalf("retries = %d for POSTs", p.stats.retries.Load())
		}
	})
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		method string
		body   string
		hdr    string
		want   bool
	}{
		{"GET", "", "", true}, {"HEAD", "", "", true}, {"OPTIONS", "", "", true}, {"DELETE", "", "", true},
		{"PUT", "", "", true}, {"PUT", "x", "", false}, {"POST", "", "", false}, {"PATCH", "", "", false},
		{"GET", "", "websocket", false},
	} {
		r := httptest.NewRequest(c.method, "/", strings.NewReader(c.body))
		if c.body == "" {
			r = httptest.NewRequest(c.method, "/", nil)
		}
		if c.hdr != "" {
			r.Header.Set("Upgrade", c.hdr)
		}
		if got := replayable(r); got != c.want {
			t.Errorf("retryable(%s body=%q upgrade=%q) = %v", c.method, c.body, c.hdr, got)
		}
	}
}

func TestCredentialsRedacted(t *testing.T) {
	p := newTestProxy(t, Options{}, BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{mustURL(t, "http://user:s3cret@b:1")}})
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	for _, path := range []string{"/status", "/backends", "/metrics"} {
		resp, err := admin.Client().Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "s3cret") || !strings.Contains(string(body), "user:xxxxx@b:1") {
			t.Errorf("%s leaks or lacks the redacted member: %s", path, body)
		}
	}
}
