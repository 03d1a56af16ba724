package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"
)

// directTransport is the opt-in backend RoundTripper (Options.DirectTransport,
// -transport direct). Plain-HTTP GET and HEAD requests
// without a body (nearly all proxied traffic) are written and answered on a pooled
// keep-alive connection in the calling goroutine; everything else (TLS, request bodies,
// protocol upgrades, Expect: 100-continue, Connection: close) goes to fallback.
//
// Why: http.Transport hands every request to a per-connection writer goroutine and the
// response back from a reader goroutine. Under load those hand-offs (channel
// operations, wake-ups on other threads, futex and nanosleep syscalls) cost more CPU
// than the forwarding itself (proxy/loadbench/FINDINGS.md). Doing the exchange
// synchronously is what nginx does per worker. Only idempotent, body-less requests go
// this way, so a keep-alive connection the backend closed while idle can be retried
// once on a fresh connection, as http.Transport does.
type directTransport struct {
	fallback      *http.Transport
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	headerTimeout time.Duration // like http.Transport.ResponseHeaderTimeout; 0: none
	idleTimeout   time.Duration // idle connections older than this are closed
	maxIdle       int           // idle connections kept per backend address

	mu    sync.Mutex
	idle  map[string][]*directConn // LIFO per address: the most recently used first
	sweep *time.Timer              // closes expired idle connections; nil when idle is empty
}

// newDirectTransport builds a directTransport that shares fallback's dialer, timeouts
// and idle limits.
func newDirectTransport(fallback *http.Transport) *directTransport {
	return &directTransport{
		fallback:      fallback,
		dial:          fallback.DialContext,
		headerTimeout: fallback.ResponseHeaderTimeout,
		idleTimeout:   fallback.IdleConnTimeout,
		maxIdle:       fallback.MaxIdleConnsPerHost,
		idle:          map[string][]*directConn{},
	}
}

// directConn is one backend connection with its buffers.
type directConn struct {
	t         *directTransport
	addr      string
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// errNoResponse marks a failure before the first response byte, the only case in which
// a reused connection is retried.
type errNoResponse struct{ err error }

func (e errNoResponse) Error() string { return e.err.Error() }
func (e errNoResponse) Unwrap() error { return e.err }

// canDirect reports whether req takes the synchronous path.
func canDirect(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Close || (req.Body != nil && req.Body != http.NoBody) {
		return false
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	h := req.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0 && len(req.TransferEncoding) == 0
}

// RoundTrip implements http.RoundTripper.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !canDirect(req) {
		return t.fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		dc, reused := t.getIdle(addr)
		if dc == nil {
			c, err := t.dial(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			dc = &directConn{t: t, addr: addr, conn: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}
		}
		resp, err := dc.roundTrip(ctx, req)
		if err == nil {
			return resp, nil
		}
		dc.close()
		var nr errNoResponse
		if reused && attempt == 0 && errors.As(err, &nr) && ctx.Err() == nil {
			continue // the backend closed the idle connection: GET/HEAD are safe to resend
		}
		if nr.err != nil {
			err = nr.err
		}
		return nil, err
	}
}

// aLongTimeAgo is a deadline in the past: it makes blocked reads and writes return.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req and reads the response head. The response body releases the
// connection back to the pool when it was read to the end.
func (dc *directConn) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	c := dc.conn
	// A cancelled request (client gone, health-check timeout) unblocks I/O at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		return nil, err
	}
	if err := req.Write(dc.bw); err != nil {
		return fail(errNoResponse{err})
	}
	if err := dc.bw.Flush(); err != nil {
		return fail(errNoResponse{err})
	}
	if dc.t.headerTimeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(dc.t.headerTimeout))
	}
	if _, err := dc.br.Peek(1); err != nil {
		return fail(errNoResponse{err})
	}
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		var err error
		if resp, err = http.ReadResponse(dc.br, req); err != nil {
			return fail(err)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		// 1xx informational (103 Early Hints): handed to ReverseProxy's trace, which
		// forwards it to the client, as http.Transport does; limited likewise.
		if n1xx >= 5 {
			return fail(errors.New("proxy: too many 1xx informational responses"))
		}
		if tr := httptrace.ContextClientTrace(ctx); tr != nil && tr.Got1xxResponse != nil {
			if err := tr.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
		}
	}
	if dc.t.headerTimeout > 0 {
		_ = c.SetReadDeadline(time.Time{})
		// Cleared after a cancellation may have set it: check so that it is not lost.
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
	}
	b := &directBody{dc: dc, body: resp.Body, stop: stop, closeAfter: resp.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

func (dc *directConn) close() { _ = dc.conn.Close() }

// directBody returns the connection to the pool once the body was read to EOF; closed
// earlier, the connection still holds unread bytes and is closed instead.
type directBody struct {
	dc         *directConn
	body       io.ReadCloser
	stop       func() bool
	closeAfter bool // the backend asked to close (Connection: close, or length by EOF)
	done       bool
	err        error // what Read returns once done
}

func (b *directBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.err = err
		b.finish(err == io.EOF)
	}
	return n, err
}

// Close never closes the underlying body: before EOF, http's body.Close would drain the
// rest from the backend, which may be large or slow.
func (b *directBody) Close() error {
	if !b.done {
		b.err = http.ErrBodyReadAfterClose
		b.finish(false)
	}
	return nil
}

func (b *directBody) finish(reusable bool) {
	b.done = true
	if !b.stop() {
		reusable = false // the cancellation fired and set a deadline in the past
	}
	if reusable && !b.closeAfter {
		b.dc.t.putIdle(b.dc)
		return
	}
	b.dc.close()
}

// getIdle takes the most recently used idle connection to addr; reused is false when
// there is none (dc nil) and the caller must dial.
func (t *directTransport) getIdle(addr string) (dc *directConn, reused bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.idle[addr]
	if len(list) == 0 {
		return nil, false
	}
	dc = list[len(list)-1]
	list[len(list)-1] = nil
	t.idle[addr] = list[:len(list)-1]
	return dc, true
}

func (t *directTransport) putIdle(dc *directConn) {
	if dc.br.Buffered() > 0 {
		dc.close() // bytes beyond the response: the connection is out of step
		return
	}
	dc.idleSince = time.Now()
	t.mu.Lock()
	list := t.idle[dc.addr]
	if len(list) >= t.maxIdle {
		t.mu.Unlock()
		dc.close()
		return
	}
	t.idle[dc.addr] = append(list, dc)
	if t.sweep == nil && t.idleTimeout > 0 {
		t.sweep = time.AfterFunc(t.idleTimeout, t.closeExpired)
	}
	t.mu.Unlock()
}

// closeExpired closes connections idle longer than idleTimeout, so that a backend that
// stopped getting traffic (or was removed) does not keep sockets open on either side.
func (t *directTransport) closeExpired() {
	var expired []*directConn
	t.mu.Lock()
	cutoff := time.Now().Add(-t.idleTimeout)
	for addr, list := range t.idle {
		i := 0 // oldest first: the list is LIFO
		for i < len(list) && list[i].idleSince.Before(cutoff) {
			i++
		}
		if i == 0 {
			continue
		}
		expired = append(expired, list[:i]...)
		if i == len(list) {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = append(list[:0:0], list[i:]...)
		}
	}
	t.sweep = nil
	if len(t.idle) > 0 {
		t.sweep = time.AfterFunc(t.idleTimeout/2, t.closeExpired)
	}
	t.mu.Unlock()
	for _, dc := range expired {
		dc.close()
	}
}

// CloseIdleConnections closes every idle backend connection (both paths).
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*directConn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, dc := range list {
			dc.close()
		}
	}
	t.fallback.CloseIdleConnections()
}
