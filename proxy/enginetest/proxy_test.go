package enginetest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// TestConnectionColorCannotStripHeader sends "Connection: Color" over a raw connection:
// a Director-based proxy would set Color and then lose it to hop-by-hop removal
// (golang/go#50580); Rewrite sets it afterwards.
func TestConnectionColorCannotStripHeader(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := proxytest.NewBackend(t, "b1")
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, b))
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
		_, e, _ := proxytest.Get(t, front.Client(), front.URL+"/", http.Header{"Color": {"green"}})
		if e.Color != "blue" || len(e.Header["Color"]) != 1 {
			t.Fatalf("Color = %q (%v), want exactly blue", e.Color, e.Header["Color"])
		}
	})
}

func TestPathQueryAndForwardedHeaders(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := proxytest.NewBackend(t, "b1")
		// A base URL with a trailing slash, as in sillyproxy's GREEN=http://myapp-v2:8080/.
		s := proxy.BackendSpec{Name: "GREEN", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, "http://"+b.Addr+"/")}}
		p := newTestProxy(t, engine, proxy.Options{}, s)
		front := newFront(t, p)

		code, e, h := proxytest.Get(t, front.Client(), front.URL+"/api/v1/items/42?sort=desc&q=a%20b", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
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
		if e.Host != b.Addr {
			t.Errorf("Host = %q, want the backend's %q", e.Host, b.Addr)
		}
		if got := h.Get("X-Proxy"); got != "proxy-host" {
			t.Errorf("X-Proxy = %q, want proxy-host", got)
		}
	})
}

func TestPreserveHost(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := proxytest.NewBackend(t, "b1")
		p := newTestProxy(t, engine, proxy.Options{PreserveHost: true}, proxytest.Spec("BLUE", 1, b))
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
		b := proxytest.NewBackend(t, "b1")
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, b))
		b.Stop()
		p.CheckNow(t.Context()) // the active check finds it down
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
		if b.Hits.Load() != 0 {
			t.Errorf("backend got %d requests while down", b.Hits.Load())
		}
	})
}

func TestNonIdempotentNotRetried(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		bad := proxytest.NewBackend(t, "bad")
		bad.Status.Store(502)
		good := proxytest.NewBackend(t, "good")
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, bad), proxytest.Spec("GREEN", 1, good))
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
		if r := p.Status().Retries; r != 0 {
			t.Fatalf("retries = %d for POSTs", r)
		}
	})
}
