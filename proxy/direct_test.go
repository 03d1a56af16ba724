package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawBackend accepts connections and calls serve for every request read from them;
// serve writes the raw response and returns false to close the connection.
func rawBackend(t *testing.T, serve func(c net.Conn, r *http.Request) bool) (*url.URL, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil || !serve(c, r) {
						return
					}
				}
			}()
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, &conns
}

func testDirect(t *testing.T) *directTransport {
	t.Helper()
	p := New(Options{Logger: quietLogger(), Hostname: "test", DirectTransport: true})
	dt, ok := p.transport.(*directTransport)
	if !ok {
		t.Fatalf("DirectTransport: transport is %T, want *directTransport", p.transport)
	}
	t.Cleanup(dt.CloseIdleConnections)
	return dt
}

// The default is the standard library's tuned transport; the direct path is chosen
// once, at construction, by DirectTransport (-transport direct).
func TestTransportChoice(t *testing.T) {
	std, err := ParseConfig(nil, []string{"BLUE=http://b:1"})
	if err != nil {
		t.Fatal(err)
	}
	if std.Transport != TransportStd {
		t.Fatalf("default Transport %q, want %q", std.Transport, TransportStd)
	}
	p := New(OptionsFrom(std))
	if _, ok := p.transport.(*http.Transport); !ok {
		t.Fatalf("default transport is %T, want *http.Transport", p.transport)
	}
	direct, err := ParseConfig([]string{"-transport", "direct"}, []string{"BLUE=http://b:1"})
	if err != nil {
		t.Fatal(err)
	}
	p = New(OptionsFrom(direct))
	dt, ok := p.transport.(*directTransport)
	if !ok {
		t.Fatalf("-transport direct: transport is %T, want *directTransport", p.transport)
	}
	dt.CloseIdleConnections()
}

func directGet(t *testing.T, rt http.RoundTripper, ctx context.Context, u string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestDirectReusesOneConnection(t *testing.T) {
	var conns atomic.Int64
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	be.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	be.Start()
	defer be.Close()
	dt := testDirect(t)
	for i := range 20 {
		path := "/r" + string(rune('a'+i))
		got, err := directGet(t, dt, context.Background(), be.URL+path)
		if err != nil || got != path {
			t.Fatalf("request %d: %q, %v; want %q", i, got, err, path)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 sequential requests used %d backend connections, want 1", n)
	}
}

// A keep-alive connection the backend closed while it sat idle fails before any
// response byte; the request must be resent on a new connection, not answered 502.
func TestDirectRetriesConnectionClosedWhileIdle(t *testing.T) {
	u, conns := rawBackend(t, func(c net.Conn, _ *http.Request) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false // close without announcing it, as an idle timeout does
	})
	dt := testDirect(t)
	for i := range 3 {
		if got, err := directGet(t, dt, context.Background(), u.String()+"/"); err != nil || got != "ok" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		time.Sleep(20 * time.Millisecond) // let the close arrive before the next request
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("backend saw %d connections, want 3", n)
	}
}

func TestDirectCancelUnblocksHungBackend(t *testing.T) {
	u, _ := rawBackend(t, func(c net.Conn, _ *http.Request) bool {
		time.Sleep(5 * time.Second) // never answers in time
		return false
	})
	dt := testDirect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := directGet(t, dt, ctx, u.String()+"/")
	if err == nil {
		t.Fatal("request to a hung backend succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancellation took %v to unblock the request", d)
	}
}

func TestDirectResponseHeaderTimeoutIsATimeout(t *testing.T) {
	u, _ := rawBackend(t, func(c net.Conn, _ *http.Request) bool {
		time.Sleep(2 * time.Second)
		return false
	})
	dt := testDirect(t)
	dt.headerTimeout = 100 * time.Millisecond
	_, err := directGet(t, dt, context.Background(), u.String()+"/")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a net.Error timeout (the proxy answers 504 for those)", err)
	}
}

// A body closed before EOF leaves unread bytes on the connection: it must not be reused.
func TestDirectEarlyCloseDiscardsConnection(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	var conns atomic.Int64
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			// The rest comes later, so that nothing of it is buffered when the client
			// closes: only the transport's own bookkeeping can tell the bytes are due.
			w.Header().Set("Content-Length", "1048586")
			_, _ = io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
			_, _ = io.WriteString(w, big)
			return
		}
		_, _ = io.WriteString(w, "small")
	}))
	be.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	be.Start()
	defer be.Close()
	dt := testDirect(t)
	req, _ := http.NewRequest(http.MethodGet, be.URL+"/big", nil)
	resp, err := dt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after Close succeeded")
	}
	if got, err := directGet(t, dt, context.Background(), be.URL+"/small"); err != nil || got != "small" {
		t.Fatalf("next request: %q, %v", got, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("backend saw %d connections, want 2 (the early-closed one not reused)", n)
	}
}

func TestDirectHonoursConnectionClose(t *testing.T) {
	u, conns := rawBackend(t, func(c net.Conn, _ *http.Request) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		return true // keeps reading: only the client's close ends the connection
	})
	dt := testDirect(t)
	for i := range 2 {
		if got, err := directGet(t, dt, context.Background(), u.String()+"/"); err != nil || got != "ok" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("backend saw %d connections, want 2 (Connection: close honoured)", n)
	}
}

// Requests with a body (and other methods) take http.Transport.
func TestDirectFallbackCarriesBodies(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+string(b))
	}))
	defer be.Close()
	dt := testDirect(t)
	req, _ := http.NewRequest(http.MethodPost, be.URL+"/", strings.NewReader("payload"))
	if canDirect(req) {
		t.Fatal("canDirect accepted a POST with a body")
	}
	resp, err := dt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "POST payload" {
		t.Fatalf("body %q", b)
	}
	for _, c := range []struct {
		method, url, header string
		want                bool
	}{
		{http.MethodGet, "http://b/", "", true},
		{http.MethodHead, "http://b/", "", true},
		{http.MethodGet, "https://b/", "", false},
		{http.MethodDelete, "http://b/", "", false},
		{http.MethodGet, "http://b/", "Upgrade", false},
		{http.MethodGet, "http://b/", "Expect", false},
	} {
		r, _ := http.NewRequest(c.method, c.url, nil)
		if c.header != "" {
			r.Header.Set(c.header, "x")
		}
		if got := canDirect(r); got != c.want {
			t.Errorf("canDirect(%s %s %s) = %v, want %v", c.method, c.url, c.header, got, c.want)
		}
	}
}

// 1xx informational responses reach the client through ReverseProxy, as with
// http.Transport, and the final response follows.
func TestDirectForwardsEarlyHints(t *testing.T) {
	u, _ := rawBackend(t, func(c net.Conn, _ *http.Request) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"+
			"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
		return true
	})
	p := newTestProxy(t, Options{DirectTransport: true}, BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{u}})
	front := httptest.NewServer(p)
	defer front.Close()
	var hints []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, h.Get("Link"))
			return nil
		},
	})
	got, err := directGet(t, http.DefaultTransport, ctx, front.URL+"/")
	if err != nil || got != "done" {
		t.Fatalf("%q, %v", got, err)
	}
	if len(hints) != 1 || hints[0] != "</style.css>; rel=preload" {
		t.Fatalf("1xx hints seen by the client: %q", hints)
	}
}

func TestDirectClosesExpiredIdleConnections(t *testing.T) {
	closed := make(chan struct{}, 1)
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	be.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	be.Start()
	defer be.Close()
	dt := testDirect(t)
	dt.idleTimeout = 50 * time.Millisecond
	if _, err := directGet(t, dt, context.Background(), be.URL+"/"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("idle backend connection still open long after the idle timeout")
	}
	dt.mu.Lock()
	n := len(dt.idle)
	dt.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d addresses still in the idle pool", n)
	}
}

// ResponseHeaderTimeout bounds the wait for the head only: a body that takes longer
// arrives, and a connection reused after the timeout has passed still works.
func TestDirectHeaderTimeoutSparesBodyAndReuse(t *testing.T) {
	u, conns := rawBackend(t, func(c net.Conn, r *http.Request) bool {
		if r.URL.Path == "/slow-body" {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfirst")
			time.Sleep(300 * time.Millisecond)
			_, _ = io.WriteString(c, "end")
			return true
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfast")
		return true
	})
	dt := testDirect(t)
	dt.headerTimeout = 100 * time.Millisecond
	if got, err := directGet(t, dt, context.Background(), u.String()+"/slow-body"); err != nil || got != "firstend" {
		t.Fatalf("slow body: %q, %v", got, err)
	}
	for i := range 2 {
		if got, err := directGet(t, dt, context.Background(), u.String()+"/"); err != nil || got != "fast" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		time.Sleep(200 * time.Millisecond) // past the previous request's header deadline
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("backend saw %d connections, want 1", n)
	}
}
