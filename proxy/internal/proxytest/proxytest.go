// Package proxytest holds the test helpers the proxy's packages share — the core's,
// each engine's and the engine comparison tests: restartable echo backends, a quiet
// proxy over them, a front served on loopback, and small request helpers. It imports
// the core only, never an engine, so every engine's own tests can use it.
package proxytest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
)

// Echo is what test backends answer: who they are and what they received.
type Echo struct {
	Backend string              `json:"backend"`
	Color   string              `json:"color"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Header  map[string][]string `json:"header"`
}

// Backend is a restartable test backend on a fixed address.
type Backend struct {
	t    testing.TB
	Name string
	Addr string
	// Hits counts the requests it answered (health checks aside).
	Hits atomic.Int64
	// Status, when set, is answered instead of 200.
	Status atomic.Int32
	mu     sync.Mutex
	srv    *httptest.Server
}

func (b *Backend) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		b.Hits.Add(1)
		if s := b.Status.Load(); s != 0 {
			w.WriteHeader(int(s))
			_, _ = io.WriteString(w, b.Name+" failing\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Echo{Backend: b.Name, Color: r.Header.Get("Color"), Path: r.URL.Path,
			Query: r.URL.RawQuery, Host: r.Host, Header: r.Header})
	})
}

// BackendOption adjusts a backend's server before it starts.
type BackendOption func(*http.Server)

// WithIdleTimeout makes the backend close keep-alive connections idle for d.
func WithIdleTimeout(d time.Duration) BackendOption {
	return func(s *http.Server) { s.IdleTimeout = d }
}

// NewBackend starts an echo backend named name, stopped at the end of the test.
func NewBackend(t testing.TB, name string, opts ...BackendOption) *Backend {
	t.Helper()
	b := &Backend{t: t, Name: name}
	b.srv = httptest.NewUnstartedServer(b.handler())
	for _, o := range opts {
		o(b.srv.Config)
	}
	b.srv.Start()
	b.Addr = b.srv.Listener.Addr().String()
	t.Cleanup(b.Stop)
	return b
}

// URL is the backend's base URL.
func (b *Backend) URL() *url.URL { return &url.URL{Scheme: "http", Host: b.Addr} }

// Stop kills the backend: the listener closes and connections are cut.
func (b *Backend) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.CloseClientConnections()
		b.srv.Close()
		b.srv = nil
	}
}

// Restart brings the backend back on the same address.
func (b *Backend) Restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", b.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("restart %s: %v", b.Name, err)
	}
	b.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: b.handler()}}
	b.srv.Start()
}

// QuietLogger discards everything.
func QuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// NewProxy returns a proxy over specs with quiet logs, hostname "proxy-host" and no
// background loops.
func NewProxy(t testing.TB, opts proxy.Options, specs ...proxy.BackendSpec) *proxy.Proxy {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = QuietLogger()
	}
	if opts.Hostname == "" {
		opts.Hostname = "proxy-host"
	}
	p := proxy.New(opts)
	if err := p.Apply(specs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return p
}

// Spec is a colour over backends.
func Spec(name string, weight int, bs ...*Backend) proxy.BackendSpec {
	s := proxy.BackendSpec{Name: name, Weight: weight}
	for _, b := range bs {
		s.Members = append(s.Members, b.URL())
	}
	return s
}

// MustURL parses s or fails the test.
func MustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Get does one request and decodes the echo (zero Echo for non-JSON answers).
func Get(t testing.TB, client *http.Client, u string, hdr http.Header) (int, Echo, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var e Echo
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &e)
	return resp.StatusCode, e, resp.Header
}

// AdminDo sends one admin API request and returns status and body.
func AdminDo(t testing.TB, admin *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
	resp, err := admin.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Front is a proxy engine serving on loopback.
type Front struct {
	URL, Addr string
	client    *http.Client
}

// Client is an HTTP client for the front.
func (f *Front) Client() *http.Client { return f.client }

// ServeHandler serves h on loopback (httptest), closed at the end of the test.
func ServeHandler(t testing.TB, h http.Handler) *Front {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return &Front{URL: s.URL, Addr: s.Listener.Addr().String(), client: s.Client()}
}

// ServeEngine serves eng on a loopback listener, shut down (within 5 s) at the end of
// the test; name is for failure messages.
func ServeEngine(t testing.TB, name string, eng server.Engine) *Front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ln) }()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := eng.Shutdown(ctx); err != nil {
			t.Errorf("%s front shutdown: %v", name, err)
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("%s front: %v", name, err)
		}
	})
	return &Front{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), client: client}
}

// Pattern is an endless reader of a repeating byte sequence, for large bodies.
type Pattern struct{ off int }

func (p *Pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.off % 251)
		p.off++
	}
	return len(b), nil
}

// PatternSum is the hex sha256 of the first n bytes of a Pattern.
func PatternSum(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, io.LimitReader(&Pattern{}, n))
	return hex.EncodeToString(h.Sum(nil))
}

// WaitFor polls cond every 10 ms until it holds, failing the test with what it waited
// for after d.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
