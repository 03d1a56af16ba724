//go:build linux

package epoll

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/archwayhq/archway/proxy"
	"golang.org/x/sys/unix"
)

// clientConn is a client connection on an event loop: it reads request heads,
// runs one exchange at a time and writes what the exchange produces.
type clientConn struct {
	l  *evLoop
	fd int
	ip []byte // for X-Forwarded-For

	buf          []byte // read buffer while there are unread bytes or an exchange
	rstart, rend int
	req          reqHead // the current request; spans into buf until it is consumed

	readReady  bool
	writeReady bool
	peerClosed bool     // RDHUP seen: read until EOF (see backConn.peerClosed)
	out        [][]byte // written next: slices of hbuf, csz or a backend's buffer
	outStore   [4][]byte
	hbuf       []byte // the response head being written
	csz        []byte // a chunk-size line being written

	x          *exchange
	xs         exchange  // what x points to while a request is in flight
	reqStart   time.Time // when the current request's head was read (the access log)
	closeAfter bool      // shutting down: close after the current response
	closing    bool      // the response in flight says Connection: close
	closed     bool
	deadline   time.Time
	// afterPost counts the stray CR/LF bytes still to skip after a POST.
	afterPost int8
}

var (
	pathHealthz = []byte("/healthz")
	pathReadyz  = []byte("/readyz")
)

func (c *clientConn) onEvent(ev uint32) {
	if ev&unix.EPOLLERR != 0 {
		c.abort()
		return
	}
	if ev&unix.EPOLLOUT != 0 {
		c.writeReady = true
		if len(c.out) > 0 {
			c.flush()
			if c.closed {
				return
			}
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
		c.readReady = true
		c.peerClosed = c.peerClosed || ev&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0
		if c.x != nil {
			if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
				// The client went away mid-request, as net/http's background read
				// would notice: stop the exchange.
				c.abort()
			}
			return
		}
		c.serve()
	}
}

// serve reads and starts requests until one is in flight, output is pending, or
// the socket has nothing more.
func (c *clientConn) serve() {
	for c.x == nil && !c.closed && len(c.out) == 0 {
		if c.afterPost > 0 && c.rend > c.rstart {
			c.skipStrayLines()
		}
		if c.rend > c.rstart {
			ok, fast := parseRequestHead(c.buf[c.rstart:c.rend], headMax, &c.req)
			if !fast {
				c.handOver()
				return
			}
			if ok {
				c.start()
				continue
			}
		}
		if c.closeAfter && c.rend == c.rstart {
			c.close()
			return
		}
		if !c.readReady {
			if c.rend == c.rstart && c.buf != nil {
				c.l.putBuf(c.buf)
				c.buf, c.rstart, c.rend = nil, 0, 0
			}
			return
		}
		c.read()
	}
}

func (c *clientConn) read() {
	if c.buf == nil {
		c.buf, c.rstart, c.rend = c.l.getBuf(), 0, 0
	}
	wasEmpty := c.rstart == c.rend
	if wasEmpty {
		c.rstart, c.rend = 0, 0
	} else if c.rend == len(c.buf) {
		c.rend = copy(c.buf, c.buf[c.rstart:c.rend])
		c.rstart = 0
	}
	n, err := sysRead(c.fd, c.buf[c.rend:])
	switch {
	case err == unix.EAGAIN:
		c.readReady = false
		return
	case err == unix.EINTR:
		return
	case err != nil || n == 0:
		c.close() // the client closed (or reset) between requests
		return
	}
	if n < len(c.buf)-c.rend && !c.peerClosed {
		c.readReady = false // a short read drained the socket; epoll tells of more
	}
	c.rend += n
	if wasEmpty {
		c.deadline = c.l.readDeadline()
	}
}

// loopServes reports whether the loops forward to m themselves: plain http:// only.
func loopServes(m *proxy.Member) bool { return m.Target().Scheme == "http" }

// skipStrayLines drops up to four CR or LF bytes before the request that follows a
// POST, as net/http's server does (RFC 9112 §2.2 tolerance for old clients that send
// a CRLF after a body).
func (c *clientConn) skipStrayLines() {
	for c.afterPost > 0 && c.rend > c.rstart {
		if b := c.buf[c.rstart]; b != '\r' && b != '\n' {
			c.afterPost = 0
			return
		}
		c.rstart++
		c.afterPost--
	}
}

// consumed moves past the request just answered.
func (c *clientConn) consumed() {
	c.rstart += c.req.size
	c.afterPost = 0
	if string(c.req.method) == http.MethodPost {
		c.afterPost = 4
	}
}

// handOver gives the connection, with what it sent so far, to net/http.
func (c *clientConn) handOver() { c.handOverChosen(nil, false) }

// handOverChosen is handOver for a request whose member is chosen already (nil: none
// yet): net/http serves that first request on m.
func (c *clientConn) handOverChosen(m *proxy.Member, pinned bool) {
	var pre []byte
	if c.buf != nil {
		pre = c.buf[c.rstart:c.rend]
	}
	c.closed = true
	c.l.forget(c)
	c.l.handOver(c.fd, pre, m, pinned)
	if c.buf != nil {
		c.l.putBuf(c.buf)
		c.buf = nil
	}
}

// start begins the exchange for c.req: a local answer, or a backend chosen.
func (c *clientConn) start() {
	l, p := c.l, c.l.p
	switch path := c.req.path(); {
	case bytes.Equal(path, pathHealthz):
		c.answer(http.StatusOK, "ok\n", false)
		return
	case bytes.Equal(path, pathReadyz):
		if err := l.e.ready.Err(); err != nil {
			c.answer(http.StatusServiceUnavailable, err.Error()+"\n", false)
		} else {
			c.answer(http.StatusOK, "ok\n", false)
		}
		return
	}
	c.reqStart = l.now
	p.CountRequest()
	m, pinned := p.Pick(&c.req)
	if m == nil {
		p.CountNoBackend()
		c.local(http.StatusServiceUnavailable, proxy.MsgNoBackend, true)
		return
	}
	if !loopServes(m) {
		// The loops speak plain HTTP/1.1 to backends: this request goes to net/http
		// with its member already chosen, so the pick is not repeated.
		c.handOverChosen(m, pinned)
		return
	}
	idem := proxy.Idempotent(string(c.req.method))
	// One exchange per connection, reused: its generation goes on counting (a dial
	// still under way for an earlier request must not match this one) and its header
	// lists keep their capacity, so a plain request allocates nothing.
	x := &c.xs
	gen, hdrs, listed := x.gen, x.resp.headers[:0], x.resp.listed[:0]
	*x = exchange{c: c, pinned: pinned, idempotent: idem, replay: idem, head: string(c.req.method) == http.MethodHead, gen: gen}
	x.resp.headers, x.resp.listed = hdrs, listed
	c.x = x
	x.attempt(m)
}

// local answers the current request from the proxy itself, and logs it.
func (c *clientConn) local(code int, body string, noBackend bool) {
	if c.l.p.AccessLogging() {
		c.logAccess(code, int64(len(body)), c.x)
	}
	c.answer(code, body, noBackend)
}

// answer is local without the access log: the proxy's own probes are not logged.
func (c *clientConn) answer(code int, body string, noBackend bool) {
	c.x = nil
	c.closing = c.req.connClose || c.closeAfter
	h := appendStatusLine(c.hbuf[:0], code)
	h = append(h, "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\nX-Proxy: "...)
	h = append(h, c.l.e.opts.Hostname...)
	if noBackend {
		h = append(h, "\r\nRetry-After: 1"...)
	}
	h = append(h, "\r\nDate: "...)
	h = append(h, c.l.dateValue()...)
	h = append(h, "\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	if c.closing {
		h = append(h, "\r\nConnection: close"...)
	}
	h = append(h, "\r\n\r\n"...)
	if string(c.req.method) != http.MethodHead {
		h = append(h, body...)
	}
	c.hbuf = h
	c.consumed()
	if c.write(h) {
		c.responded()
	}
}

// logAccess writes the access log line of the current request: the status and body
// bytes the proxy answered with, x (nil for an answer before any attempt) for the
// member, attempts and fault.
func (c *clientConn) logAccess(status int, n int64, x *exchange) {
	e := proxy.AccessEntry{Client: string(c.ip), Method: string(c.req.method), Target: string(c.req.uri),
		Status: status, Bytes: n, Duration: c.l.now.Sub(c.reqStart), Engine: proxy.EngineEpoll}
	if x != nil {
		e.Member, e.Attempts, e.Fault = x.m, x.attempts, x.fault
	}
	c.l.p.LogAccess(&e)
}

// serveAfterLocal goes on to the next request after an error answer given outside
// serve's loop (from a backend event or a timer).
func (c *clientConn) serveAfterLocal() {
	if !c.closed && len(c.out) == 0 {
		c.serve()
	}
}

// responded continues after a response went out completely.
func (c *clientConn) responded() {
	if c.closing {
		c.close()
		return
	}
	c.deadline = c.l.idleDeadline()
}

// write sends iov as far as the socket takes it and queues the rest; it reports
// whether everything went. A write error closes the connection (and reports false).
func (c *clientConn) write(iov ...[]byte) bool {
	if c.closed {
		return false
	}
	n := 0
	if c.writeReady {
		var err error
		n, err = c.l.writev(c.fd, iov)
		if err == unix.EAGAIN {
			n, err = 0, nil
		}
		if err != nil {
			c.abort()
			return false
		}
	}
	c.out = c.outStore[:0]
	for _, b := range iov {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		c.out = append(c.out, b[n:])
		n = 0
	}
	if len(c.out) == 0 {
		return true
	}
	c.writeReady = false
	return false
}

// flush continues a queued write once epoll reports the socket writable.
func (c *clientConn) flush() {
	pending := c.out
	if !c.write(pending...) {
		if !c.closed {
			c.deadline = c.l.readDeadline()
		}
		return
	}
	if x := c.x; x != nil {
		x.clientDrained()
		return
	}
	c.responded()
	if !c.closed {
		c.serve()
	}
}

// abort ends the connection now, and any exchange with it.
func (c *clientConn) abort() {
	if x := c.x; x != nil {
		x.abandon()
	}
	c.close()
}

func (c *clientConn) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.l.closeFD(c.fd)
	c.l.forget(c)
	c.l.p.OpenConns().Add(-1)
	if c.buf != nil && c.x == nil {
		c.l.putBuf(c.buf)
	}
	c.buf = nil
}

// timedOut applies the deadline: an idle or slow client is closed; an exchange
// still waiting for its response head is answered 504; a stalled stream is cut.
func (c *clientConn) timedOut() {
	switch x := c.x; {
	case x == nil:
		c.close()
	case !x.sent:
		x.fail(proxy.ErrAttemptTimeout)
	default:
		c.abort()
	}
}
