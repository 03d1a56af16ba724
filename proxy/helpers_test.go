package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/server"
)

// echo is what test backends answer: who they are and what they received.
type echo struct {
	Backend string              `json:"backend"`
	Color   string              `json:"color"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Header  map[string][]string `json:"header"`
}

// backend is a restartable test backend on a fixed address.
type backend struct {
	t    *testing.T
	name string
	addr string
	hits atomic.Int64
	// status, when set, is answered instead of 200.
	status atomic.Int32
	mu     sync.Mutex
	srv    *httptest.Server
}

func (b *backend) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		b.hits.Add(1)
		if s := b.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			_, _ = io.WriteString(w, b.name+" failing\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Backend: b.name, Color: r.Header.Get("Color"), Path: r.URL.Path,
			Query: r.URL.RawQuery, Host: r.Host, Header: r.Header})
	})
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{t: t, name: name}
	b.srv = httptest.NewServer(b.handler())
	b.addr = b.srv.Listener.Addr().String()
	t.Cleanup(b.stop)
	return b
}

func (b *backend) url() *url.URL { return &url.URL{Scheme: "http", Host: b.addr} }

// stop kills the backend: the listener closes and connections are cut.
func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.CloseClientConnections()
		b.srv.Close()
		b.srv = nil
	}
}

// restart brings the backend back on the same address.
func (b *backend) restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("restart %s: %v", b.name, err)
	}
	b.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: b.handler()}}
	b.srv.Start()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestProxy returns a proxy over specs with quiet logs and no background loops.
func newTestProxy(t *testing.T, opts Options, specs ...BackendSpec) *Proxy {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if opts.Hostname == "" {
		opts.Hostname = "proxy-host"
	}
	p := New(opts)
	if err := p.Apply(specs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return p
}

func spec(name string, weight int, bs ...*backend) BackendSpec {
	s := BackendSpec{Name: name, Weight: weight}
	for _, b := range bs {
		s.Members = append(s.Members, b.url())
	}
	return s
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// get does one request through h and decodes the echo (zero echo for non-JSON answers).
func get(t *testing.T, client *http.Client, u string, hdr http.Header) (int, echo, http.Header) {
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
	var e echo
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &e)
	return resp.StatusCode, e, resp.Header
}

// engines are the proxy engines every behaviour test runs against: nethttp first,
// the reference the others are compared with.
var engines = []string{EngineNetHTTP}

func init() {
	if epollSupported {
		engines = append(engines, EngineEpoll)
	}
}

// forEachEngine runs f as a subtest per engine.
func forEachEngine(t *testing.T, f func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e, func(t *testing.T) { f(t, e) })
	}
}

// testFront serves a proxy on loopback with the proxy's engine, as Serve would.
type testFront struct {
	URL, Addr string
	client    *http.Client
}

func (f *testFront) Client() *http.Client { return f.client }

// newFront serves p's proxying only (no /healthz, /readyz) for the nethttp engine, as
// httptest.NewServer(p) does, and the full engine for the others.
func newFront(t testing.TB, p *Proxy) *testFront {
	t.Helper()
	if p.opts.Engine != EngineNetHTTP {
		ready := &server.Readiness{Check: p.Ready}
		ready.Set(true)
		return newFrontReady(t, p, ready)
	}
	return startFront(t, httptest.NewServer(p))
}

// newFrontReady serves p with /healthz and /readyz answered from ready; tweak, if
// given, adjusts the engine before it serves (the epoll engine's timeouts).
func newFrontReady(t testing.TB, p *Proxy, ready *server.Readiness, tweak ...func(server.Engine)) *testFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var srv server.Engine
	switch p.opts.Engine {
	case EngineEpoll:
		srv = p.EpollServer(ready, 0)
	default:
		ln.Close()
		return startFront(t, httptest.NewServer(p.Handler(ready)))
	}
	for _, f := range tweak {
		f(srv)
	}
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(ln)
	}()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("%s front shutdown: %v", p.opts.Engine, err)
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("%s front: %v", p.opts.Engine, err)
		}
	})
	return &testFront{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), client: client}
}

func startFront(t testing.TB, s *httptest.Server) *testFront {
	t.Cleanup(s.Close)
	return &testFront{URL: s.URL, Addr: s.Listener.Addr().String(), client: s.Client()}
}
