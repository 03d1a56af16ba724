//go:build linux

package epoll

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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
	"github.com/archwayhq/archway/proxy/nethttp"
)

// The behaviour tests run against the epoll engine through forEachEngine; these cover
// what it does underneath: which connections stay on the loops, pipelining,
// backpressure, timeouts, response framing and the hand-over to net/http.

// epollFront serves h as the only backend behind an epoll proxy; tweak adjusts the
// engine (timeouts) before it serves.
func epollFront(t *testing.T, h http.HandlerFunc, tweak func(*Engine)) (*proxy.Proxy, *proxytest.Front) {
	t.Helper()
	be := httptest.NewServer(h)
	t.Cleanup(be.Close)
	p := proxytest.NewProxy(t, proxy.Options{}, proxy.BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, be.URL)}})
	return p, serveEpoll(t, p, tweak)
}

// serveEpoll serves p with the epoll engine (net/http for what it hands over), ready;
// tweak, if not nil, adjusts the engine before it serves.
func serveEpoll(t testing.TB, p *proxy.Proxy, tweak func(*Engine)) *proxytest.Front {
	t.Helper()
	ready := &server.Readiness{Check: p.Ready}
	ready.Set(true)
	e := New(p, nethttp.New(p), ready, 0)
	if tweak != nil {
		tweak(e)
	}
	return proxytest.ServeEngine(t, "epoll", e)
}

// handovers is the engine's epoll_handovers counter as /status reports it.
func handovers(p *proxy.Proxy) uint64 { return p.Status().Engine["epoll_handovers"] }

// inFlight is the first member's requests in flight.
func inFlight(p *proxy.Proxy) int64 { return p.Status().Backends[0].Members[0].InFlight }

// dialFront opens a raw client connection to front, closed at the end of the test.
func dialFront(t *testing.T, front *proxytest.Front) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", front.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// rawExchange writes req on c and reads one response.
func rawExchange(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("after %q: %v", req, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("body after %q: %v", req, err)
	}
	return resp, string(body)
}

func TestEpollKeepsPlainRequestsOnTheLoops(t *testing.T) {
	p, front := epollFront(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, r.Header.Get("Color"), n)
	}, nil)
	for i := range 20 {
		resp, err := front.Client().Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "GET blue 0" {
			t.Fatalf("GET %d: %q", i, body)
		}
	}
	if n := handovers(p); n != 0 {
		t.Fatalf("%d connections handed to net/http after plain GETs, want 0", n)
	}
	// A body moves the connection to net/http, which serves it and what follows.
	resp, err := front.Client().Post(front.URL+"/", "text/plain", strings.NewReader("12345"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "POST blue 5" || handovers(p) != 1 {
		t.Fatalf("POST: %q, handovers %d; want POST blue 5 and 1", body, handovers(p))
	}
	resp, err = front.Client().Get(front.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "GET blue 0" || resp.Header.Get("X-Proxy") != "proxy-host" {
		t.Fatalf("GET after the hand-over: %q X-Proxy %q", body, resp.Header.Get("X-Proxy"))
	}
}

func TestEpollPipelinedRequestsAnsweredInOrder(t *testing.T) {
	_, front := epollFront(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}, nil)
	c, br := dialFront(t, front)
	var reqs strings.Builder
	for i := range 5 {
		fmt.Fprintf(&reqs, "GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	if _, err := io.WriteString(c, reqs.String()); err != nil { // one write: all five arrive together
		t.Fatal(err)
	}
	for i := range 5 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("/r%d", i); string(body) != want {
			t.Fatalf("response %d: %q, want %q", i, body, want)
		}
	}
}

// TestEpollBackpressure: a client that does not read makes the proxy stop reading the
// backend (its writes block), instead of buffering the response in memory.
func TestEpollBackpressure(t *testing.T) {
	const size = 256 << 20
	var written atomic.Int64
	_, front := epollFront(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		buf := make([]byte, 64<<10)
		src := &proxytest.Pattern{}
		for written.Load() < size {
			n := min(len(buf), int(size-written.Load()))
			_, _ = src.Read(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
			written.Add(int64(n))
		}
	}, nil)
	c, br := dialFront(t, front)
	if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	// Let the backend write as much as it can while nobody reads.
	var last int64 = -1
	for i := 0; i < 50 && written.Load() != last; i++ {
		last = written.Load()
		time.Sleep(100 * time.Millisecond)
	}
	// Socket buffers on the three hops (client, proxy both ways, backend) hold a few
	// MiB at most; a proxy that kept reading would have taken everything.
	if w := written.Load(); w >= 64<<20 {
		t.Fatalf("backend wrote %d MiB to a client that reads nothing, want it held back", w>>20)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != proxytest.PatternSum(size) {
		t.Fatalf("read %d bytes (err %v), want %d intact", n, err, size)
	}
}

// TestEpollTimeouts: a backend that does not answer gets 504 after the attempt
// deadline (no other member to retry on);
// an idle client connection is closed after the idle timeout.
func TestEpollTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	p, front := epollFront(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}, func(e *Engine) {
		e.opts.AttemptTimeout, e.readTimeout, e.idleTimeout = time.Second, time.Second, time.Second
	})

	start := time.Now()
	resp, err := front.Client().Get(front.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || string(body) != "archway-proxy: backend timed out\n" {
		t.Fatalf("slow backend: %d %q, want the proxy's 504", resp.StatusCode, body)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Fatalf("504 after %v, want after the 1s timeout (checked each second)", d)
	}
	if n := inFlight(p); n != 0 {
		t.Fatalf("in flight %d after the timeout, want 0", n)
	}

	c, br := dialFront(t, front)
	if resp, body := rawExchange(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: read %d, %v; want EOF once the idle timeout passed", n, err)
	}
}

// TestEpollResponseFraming: chunked responses pass through with their trailers; a
// response delimited by the backend closing reaches the client chunked, on a
// connection that stays open.
func TestEpollResponseFraming(t *testing.T) {
	_, front := epollFront(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
			w.Header().Set("X-Sum", "42")
		case "/close":
			conn, bw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
			bw.Flush()
			conn.Close()
		}
	}, nil)
	c, br := dialFront(t, front)
	for range 2 {
		resp, body := rawExchange(t, c, br, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
		if body != "part one, part two" || resp.Trailer.Get("X-Sum") != "42" || len(resp.TransferEncoding) == 0 {
			t.Fatalf("chunked: %q trailer %v encoding %v", body, resp.Trailer, resp.TransferEncoding)
		}
		resp, body = rawExchange(t, c, br, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
		if body != "until the end" || resp.Close || len(resp.TransferEncoding) == 0 {
			t.Fatalf("close-delimited: %q close %v encoding %v; want it chunked on an open connection", body, resp.Close, resp.TransferEncoding)
		}
	}
}

// TestEpollHandsOverUpgradesAndHTTP10: what the loops do not serve still works,
// through net/http: a protocol upgrade (the fasthttp engine answers 501) and HTTP/1.0.
func TestEpollHandsOverUpgradesAndHTTP10(t *testing.T) {
	p, front := epollFront(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			fmt.Fprintf(w, "%s %s", r.Proto, r.Header.Get("Color"))
			return
		}
		conn, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		bw.Flush()
		line, _ := bw.ReadString('\n')
		bw.WriteString("echo: " + line)
		bw.Flush()
	}, nil)

	c, br := dialFront(t, front)
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(c, "hello\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := br.ReadString('\n'); line != "echo: hello\n" {
		t.Fatalf("after the upgrade: %q %v", line, err)
	}

	c2, br2 := dialFront(t, front)
	if resp, body := rawExchange(t, c2, br2, "GET / HTTP/1.0\r\n\r\n"); resp.StatusCode != 200 || body != "HTTP/1.1 blue" {
		t.Fatalf("HTTP/1.0: %d %q", resp.StatusCode, body)
	}
	if n := handovers(p); n != 2 {
		t.Fatalf("handovers %d, want 2", n)
	}
}

// TestEpollClientGoneMidResponse: a client that leaves while the response streams
// ends the exchange: the backend connection is closed and nothing stays in flight.
func TestEpollClientGoneMidResponse(t *testing.T) {
	gone := make(chan struct{})
	p, front := epollFront(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		io.WriteString(w, "first part")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the proxy closed the backend connection
		close(gone)
	}, nil)
	c, br := dialFront(t, front)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's request was not cancelled after the client left")
	}
	deadline := time.Now().Add(5 * time.Second)
	for inFlight(p) != 0 || p.OpenConns().Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight %d, open client connections %d; want 0 and 0", inFlight(p), p.OpenConns().Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEpollHandsHTTPSMembersOver: an https:// member is served through net/http with
// the member the loop chose — no refusal, no second pick: the split stays exact — and
// the admin API accepts one.
func TestEpollHandsHTTPSMembersOver(t *testing.T) {
	tlsBE := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "green "+r.Header.Get("Color"))
	}))
	t.Cleanup(tlsBE.Close)
	plain := proxytest.NewBackend(t, "blue")
	p := proxytest.NewProxy(t, proxy.Options{Transport: tlsBE.Client().Transport},
		proxytest.Spec("BLUE", 3, plain), proxy.BackendSpec{Name: "GREEN", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, tlsBE.URL)}})
	front := serveEpoll(t, p, nil)
	counts := map[string]int{}
	for range 40 {
		// A fresh connection each time: a handed-over connection stays with net/http.
		c, br := dialFront(t, front)
		resp, body := rawExchange(t, c, br, "GET /x HTTP/1.1\r\nHost: shop\r\n\r\n")
		c.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %q", resp.StatusCode, body)
		}
		if strings.HasPrefix(body, "green") {
			counts["green"]++
			if body != "green green" {
				t.Fatalf("https member got Color %q", body)
			}
		} else {
			counts["blue"]++
		}
	}
	if counts["blue"] != 30 || counts["green"] != 10 {
		t.Fatalf("split %v over 40 requests, want exactly blue 30 green 10", counts)
	}
	if n := handovers(p); n != 10 {
		t.Fatalf("handovers %d, want 10 (one per https request)", n)
	}
	if n := p.Status().Requests; n != 40 {
		t.Fatalf("requests counted %d, want 40 (a handed-over request counts once)", n)
	}
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	if code, body := proxytest.AdminDo(t, admin, "PUT", "/backends/red", `{"url": "https://r.example", "weight": 1}`); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("admin PUT of an https backend: %d %s, want it accepted", code, body)
	}
}

// panicky is a connection handler with a bug.
type panicky struct{}

func (panicky) onEvent(uint32) { panic("bug") }

// TestEpollLoopSurvivesAPanic: a bug in one connection's handling costs the loop's
// connections, not the process, and the proxy goes on serving.
func TestEpollLoopSurvivesAPanic(t *testing.T) {
	var engine *Engine
	_, front := epollFront(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") },
		func(e *Engine) { engine = e })
	get := func() string {
		t.Helper()
		resp, err := front.Client().Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body)
	}
	if b := get(); b != "ok" {
		t.Fatalf("before: %q", b)
	}
	engine.mu.Lock()
	loops := engine.loops
	engine.mu.Unlock()
	panicked := make(chan int, len(loops))
	for _, l := range loops {
		l.post(func() {
			// A readable eventfd wakes the loop at once with an event for panicky.
			fd, err := unix.Eventfd(1, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
			if err == nil {
				err = l.register(fd, panicky{})
			}
			if err != nil {
				t.Error(err)
			}
			panicked <- fd
		})
	}
	for range loops {
		fd := <-panicked
		t.Cleanup(func() { unix.Close(fd) })
	}
	front.Client().CloseIdleConnections()
	for i := range 10 {
		if b := get(); b != "ok" {
			t.Fatalf("request %d after the panic: %q", i, b)
		}
	}
}
