package enginetest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// The behaviour tests in proxy_test.go, resilience_test.go, sticky_test.go,
// admin_test.go, clientfault_test.go and adversarial_test.go run against both engines
// (forEachEngine), as does proxy/serve's drain test. The tests
// here cover what each engine does underneath and must do alike: hop-by-hop
// handling, streamed bodies, connection reuse and their limits.

// frontFor serves h as the only backend (colour BLUE) behind a proxy with engine.
func frontFor(t *testing.T, engine string, h http.HandlerFunc) *proxytest.Front {
	t.Helper()
	be := httptest.NewServer(h)
	t.Cleanup(be.Close)
	p := newTestProxy(t, engine, proxy.Options{}, proxy.BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, be.URL)}})
	return newFront(t, p)
}

// bodyBackend answers /upload with the size and sha256 of the request body and
// /download?n=N with N deterministic bytes, streamed.
func bodyBackend(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/upload":
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
	case "/download":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, io.LimitReader(&proxytest.Pattern{}, int64(n)))
	}
}

func TestLargeBodiesBothWays(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		front := frontFor(t, engine, bodyBackend)
		const size = 9 << 20 // larger than any buffer an engine keeps: must stream
		want := fmt.Sprintf("%d %s", size, proxytest.PatternSum(size))

		// With Content-Length, chunked (length unknown), and with Expect: 100-continue as
		// curl sends it for large bodies.
		for _, mode := range []string{"length", "chunked", "expect"} {
			var body io.Reader = io.LimitReader(&proxytest.Pattern{}, size)
			if mode == "chunked" {
				body = io.MultiReader(body) // hides the length from http.NewRequest
			}
			req, _ := http.NewRequest(http.MethodPost, front.URL+"/upload", body)
			if mode != "chunked" {
				req.ContentLength = size
			}
			if mode == "expect" {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := front.Client().Do(req)
			if err != nil {
				t.Fatalf("upload (%s): %v", mode, err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != want {
				t.Fatalf("upload (%s): %d %q, want %q", mode, resp.StatusCode, got, want)
			}
		}

		resp, err := front.Client().Get(front.URL + "/download?n=" + strconv.Itoa(3*size))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != 3*size || hex.EncodeToString(h.Sum(nil)) != proxytest.PatternSum(3*size) {
			t.Fatalf("download: %d bytes, err %v, want %d intact bytes", n, err, 3*size)
		}
	})
}

func TestHopByHopHeadersDropped(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		var seen http.Header
		front := frontFor(t, engine, func(w http.ResponseWriter, r *http.Request) {
			seen = r.Header.Clone()
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "backend-only")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("X-Public", "yes")
		})

		c, err := net.Dial("tcp", front.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n"+
			"Keep-Alive: timeout=9\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nX-Kept: k\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Connection"} {
			if v := seen.Get(h); v != "" {
				t.Errorf("backend got hop-by-hop %s: %q", h, v)
			}
		}
		if seen.Get("X-Kept") != "k" || seen.Get("Color") != "blue" {
			t.Errorf("backend lost end-to-end headers: %v", seen)
		}
		if v := resp.Header.Get("X-Internal"); v != "" || resp.Header.Get("Keep-Alive") != "" {
			t.Errorf("client got the backend's hop-by-hop headers: X-Internal %q Keep-Alive %q", v, resp.Header.Get("Keep-Alive"))
		}
		if resp.Header.Get("X-Public") != "yes" {
			t.Errorf("client lost X-Public: %v", resp.Header)
		}
	})
}

// TestBasePathTarget: a backend URL with a path and query prefixes and merges them, as
// httputil.ProxyRequest.SetURL does.
func TestBasePathTarget(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := proxytest.NewBackend(t, "b1")
		p := newTestProxy(t, engine, proxy.Options{}, proxy.BackendSpec{Name: "BLUE", Weight: 1,
			Members: []*url.URL{proxytest.MustURL(t, "http://"+b.Addr+"/base/?k=1")}})
		front := newFront(t, p)
		_, e, _ := proxytest.Get(t, front.Client(), front.URL+"/x/a%2Fb?y=2", nil)
		if e.Path != "/base/x/a/b" || e.Query != "k=1&y=2" {
			t.Fatalf("backend got path %q query %q, want /base/x/a/b and k=1&y=2", e.Path, e.Query)
		}
	})
}

// TestStaleKeepAliveNotAFailure: a backend that closes idle connections quickly (a
// short keep-alive timeout) must not turn the next request on such a connection into
// an error, a retry on another member or a passive failure.
func TestStaleKeepAliveNotAFailure(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := proxytest.NewBackend(t, "b1", proxytest.WithIdleTimeout(30*time.Millisecond))
		p := newTestProxy(t, engine, proxy.Options{MaxFails: 1}, proxytest.Spec("BLUE", 1, b))
		front := newFront(t, p)
		for i := range 5 {
			if code, e, _ := proxytest.Get(t, front.Client(), front.URL+"/", nil); code != 200 || e.Backend != "b1" {
				t.Fatalf("request %d: %d from %q", i, code, e.Backend)
			}
			time.Sleep(80 * time.Millisecond) // the backend closes the idle connection
		}
		m := member(t, p, "blue", 0)
		if r := p.Status().Retries; !m.Up || r != 0 || m.Ejections != 0 {
			t.Fatalf("up=%v retries=%d ejections=%d, want a healthy member and no retries", m.Up, r, m.Ejections)
		}
	})
}

// TestConnectionCloseScopes: the client's Connection: close ends the client connection;
// the backend's only ends the backend connection.
func TestConnectionCloseScopes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		front := frontFor(t, engine, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		})
		c, err := net.Dial("tcp", front.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for i := range 3 { // one client connection over three closing backend connections
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d on the kept-alive client connection: %v", i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "bye" || resp.Close {
				t.Fatalf("request %d: body %q, close %v; want bye on an open connection", i, body, resp.Close)
			}
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !resp.Close {
			t.Fatal("client asked to close but the response keeps the connection")
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := br.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after Connection: close read %d bytes, err %v; want EOF", n, err)
		}
	})
}

// TestHeadAndBodylessStatuses: HEAD keeps the GET's Content-Length without a body, and
// 204/304 pass through without one, on a connection that stays usable.
func TestHeadAndBodylessStatuses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		front := frontFor(t, engine, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/204":
				w.WriteHeader(http.StatusNoContent)
			case "/304":
				w.Header().Set("ETag", `"v1"`)
				w.WriteHeader(http.StatusNotModified)
			default:
				w.Header().Set("Content-Length", "11")
				_, _ = io.WriteString(w, "hello world")
			}
		})
		c, err := net.Dial("tcp", front.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, tc := range []struct {
			method, path string
			status       int
			length       string
		}{
			{"HEAD", "/", 200, "11"}, {"GET", "/204", 204, ""}, {"GET", "/304", 304, ""}, {"GET", "/", 200, "11"},
		} {
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.method, tc.path)
			req, _ := http.NewRequest(tc.method, tc.path, nil)
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantBody := ""
			if tc.method == "GET" && tc.status == 200 {
				wantBody = "hello world"
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Length") != tc.length || string(body) != wantBody {
				t.Fatalf("%s %s: %d Content-Length %q body %q; want %d %q %q", tc.method, tc.path,
					resp.StatusCode, resp.Header.Get("Content-Length"), body, tc.status, tc.length, wantBody)
			}
		}
	})
}

// TestEarlyRejectionWithExpect: a backend that refuses an upload without reading it (as
// archway-app answers 405 to a POST) must have its answer reach a client that sent
// Expect: 100-continue (curl does above 1 KiB) at once, not a 502, and before the
// client gave up waiting for "100 Continue" and sent its body: the body is never read.
// (The proxy used to read it first, so curl waited its 1 s expect timeout.)
func TestEarlyRejectionWithExpect(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		front := frontFor(t, engine, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no uploads here", http.StatusMethodNotAllowed)
		})
		const size = 2 << 20
		body := &readNoted{r: io.LimitReader(&proxytest.Pattern{}, size)}
		req, _ := http.NewRequest(http.MethodPost, front.URL+"/", body)
		req.ContentLength = size
		req.Header.Set("Expect", "100-continue")
		// Like curl: wait for the 100 (or a final answer) before sending the body; far
		// longer than the proxy should need, so a proxy that needs the body first
		// shows as a body that was read.
		client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}, Timeout: time.Minute}
		defer client.CloseIdleConnections()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("got %d %q, want the backend's 405", resp.StatusCode, got)
		}
		if body.read.Load() {
			t.Fatal("the client had to send its body before it heard the backend's 405 (no 100 Continue came, so it waited for its expect timeout)")
		}
	})
}

// readNoted is a request body that notes whether anything read it.
type readNoted struct {
	r    io.Reader
	read atomic.Bool
}

func (b *readNoted) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

// TestSoleMemberDownIs502: with nowhere to retry, a refused connection (and a backend's
// 502) end in the proxy's 502, not an empty answer.
func TestSoleMemberDownIs502(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		dead, bad := proxytest.NewBackend(t, "dead"), proxytest.NewBackend(t, "bad")
		dead.Stop()
		bad.Status.Store(http.StatusBadGateway)
		for _, b := range []*proxytest.Backend{dead, bad} {
			p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, b))
			front := newFront(t, p)
			resp, err := front.Client().Get(front.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway || string(body) != "archway-proxy: backend unavailable\n" || resp.Header.Get("X-Proxy") != "proxy-host" {
				t.Errorf("%s: %d %q X-Proxy %q, want the proxy's 502", b.Name, resp.StatusCode, body, resp.Header.Get("X-Proxy"))
			}
		}
	})
}

// TestEnginesForwardTheSameHeaders sends one raw request with awkward headers through
// every engine and compares what the backend receives: the others must rewrite exactly
// as httputil.ReverseProxy with Rewrite (the nethttp engine) does.
func TestEnginesForwardTheSameHeaders(t *testing.T) {
	// Dropped headers come first and repeated ones last: an engine that deletes by
	// swapping the last header into the hole would reverse them.
	raw := "GET /p?q=1 HTTP/1.1\r\nHost: shop.example\r\n" +
		"Connection: keep-alive, X-Drop\r\nX-Drop: gone\r\nProxy-Connection: keep-alive\r\n" +
		"Cookie: a=1\r\nCookie: b=2\r\nUser-Agent: probe/1\r\n" +
		"X-Forwarded-Host: forged.example\r\nX-Forwarded-Proto: https\r\n" +
		"Forwarded: for=198.51.100.7\r\nAccept-Encoding: gzip\r\nColor: forged\r\n" +
		"Content-Type: text/plain\r\nx-lower: kept\r\n" +
		"X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-For: 203.0.113.1\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n"
	seen := map[string]http.Header{}
	for _, engine := range engines {
		front := frontFor(t, engine, func(_ http.ResponseWriter, r *http.Request) {
			h := r.Header.Clone()
			h.Set("X-Test-Host", r.Host)
			h.Set("X-Test-URI", r.RequestURI)
			seen[engine] = h
		})
		c, err := net.Dial("tcp", front.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", engine, resp, err)
		}
	}
	std := seen[proxy.EngineNetHTTP]
	for _, h := range seen {
		// The test backend's address differs per engine.
		h.Del("X-Test-Host")
	}
	for _, engine := range engines[1:] {
		diffHeaders(t, engine, "sends", std, seen[engine])
	}
}

// diffHeaders reports every header whose values (in order) differ between the nethttp
// engine and engine.
func diffHeaders(t *testing.T, engine, verb string, std, other http.Header) {
	t.Helper()
	keys := map[string]bool{}
	for k := range std {
		keys[k] = true
	}
	for k := range other {
		keys[k] = true
	}
	for k := range keys {
		if a, b := strings.Join(std[k], " | "), strings.Join(other[k], " | "); a != b {
			t.Errorf("%s: nethttp %s %q, %s %q", k, verb, a, engine, b)
		}
	}
}

// TestEnginesReturnTheSameHeaders: what a backend answers reaches the client the same
// through every engine (Date and Content-Length aside, which each server sets itself).
func TestEnginesReturnTheSameHeaders(t *testing.T) {
	got := map[string]http.Header{}
	for _, engine := range engines {
		front := frontFor(t, engine, func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h["Set-Cookie"] = []string{"a=1; Path=/", "b=2; HttpOnly"}
			h["X-Multi"] = []string{"one", "two"}
			h.Set("Server", "backend/1")
			h.Set("Cache-Control", "max-age=60")
			h.Set("Connection", "X-Hop")
			h.Set("X-Hop", "dropped")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "{}")
		})
		resp, err := front.Client().Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: status %d", engine, resp.StatusCode)
		}
		resp.Header.Del("Date")
		resp.Header.Del("Content-Length")
		got[engine] = resp.Header
	}
	for _, engine := range engines[1:] {
		diffHeaders(t, engine, "returns", got[proxy.EngineNetHTTP], got[engine])
	}
	for engine, h := range got {
		if h.Get("X-Hop") != "" {
			t.Errorf("%s: a header the backend listed in Connection reached the client", engine)
		}
	}
}

// TestUnservedRequestsAreAnswered: requests no backend should see get the proxy's own
// answer at once — never silence, never forwarded: HTTP/0.9, an HTTP/2 preface on the
// HTTP/1 port, CONNECT.
func TestUnservedRequestsAreAnswered(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b := proxytest.NewBackend(t, "blue")
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, b))
		front := newFront(t, p)
		for _, tc := range []struct {
			name, raw string
			want      int
		}{
			{"HTTP/0.9", "GET /\r\n", http.StatusBadRequest},
			{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0},
			{"CONNECT", "CONNECT shop.example:443 HTTP/1.1\r\nHost: shop.example:443\r\n\r\n", http.StatusMethodNotAllowed},
		} {
			c, err := net.Dial("tcp", front.Addr)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			_, _ = io.WriteString(c, tc.raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err != nil {
				t.Fatalf("%s: no answer within 3s: %v", tc.name, err)
			}
			resp.Body.Close()
			if tc.want != 0 && resp.StatusCode != tc.want || resp.StatusCode < 400 {
				t.Errorf("%s: status %d, want %d (a 4xx/5xx of the proxy's)", tc.name, resp.StatusCode, tc.want)
			}
			t.Logf("%s: %s", tc.name, resp.Status)
		}
		if n := b.Hits.Load(); n != 0 {
			t.Fatalf("the backend saw %d of these requests, want none", n)
		}
	})
}
