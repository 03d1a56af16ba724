//go:build linux

package epoll

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/archwayhq/archway/proxy"
	"golang.org/x/sys/unix"
)

// backConn is a keep-alive connection to a backend member, owned by one loop.
type backConn struct {
	l     *evLoop
	fd    int
	addr  string
	gauge *atomic.Int64 // open connections to addr, for /status

	buf          []byte
	rstart, rend int
	wbuf         []byte // the request head being written
	wpos         int

	readReady  bool
	writeReady bool
	// peerClosed: epoll reported the backend's FIN (RDHUP). Read until EOF then: the
	// FIN may sit behind data that a short read took, and brings no new event.
	peerClosed bool
	state      uint8
	x          *exchange
	reused     bool // served before: the backend may have closed it while idle
	gotBytes   bool // some of the current response arrived
	idleSince  time.Time
	closed     bool
}

const (
	bIdle uint8 = iota
	bWriting
	bHead
	bBody
)

// epollDialer connects to backends, as NewTransport's dialer does; it runs in a
// goroutine of its own (names may need DNS) and hands the socket to the loop.
var epollDialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

func (b *backConn) onEvent(ev uint32) {
	if ev&unix.EPOLLOUT != 0 {
		b.writeReady = true
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		b.readReady = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		b.peerClosed = true
	}
	switch b.state {
	case bIdle:
		if b.readReady {
			b.checkIdle()
		}
	case bWriting:
		if b.writeReady || ev&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			b.writeRequest()
		}
	case bHead, bBody:
		if b.readReady {
			b.pump()
		}
	}
}

// checkIdle drops a pooled connection that became readable: the backend closed it
// (or sent bytes nobody asked for).
func (b *backConn) checkIdle() {
	var one [1]byte
	if _, err := sysRead(b.fd, one[:]); err == unix.EAGAIN {
		b.readReady = false
		return
	}
	b.l.dropIdle(b)
	b.close()
}

// writeRequest writes the request head; then the response is awaited.
func (b *backConn) writeRequest() {
	for b.wpos < len(b.wbuf) {
		n, err := sysWrite(b.fd, b.wbuf[b.wpos:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			b.writeReady = false
			return
		case err != nil:
			b.failed(&net.OpError{Op: "write", Net: "tcp", Err: err})
			return
		}
		b.wpos += n
	}
	b.state = bHead
	b.x.c.deadline = b.x.headBy
	if b.readReady {
		b.pump()
	}
}

// pump reads the response while the client keeps up: it stops while the client has
// output pending (backpressure: the backend's socket buffer fills, not our memory).
func (b *backConn) pump() {
	x := b.x
	for reads := 0; !b.closed && b.x == x && x != nil && !x.bodyDone && len(x.c.out) == 0 && b.readReady; reads++ {
		if reads == epollReadsPerTurn {
			// A fast backend and client could keep the loop here for a whole large
			// body; give the loop's other connections a turn and come back.
			b.l.again = append(b.l.again, b)
			return
		}
		if b.rstart == b.rend {
			b.rstart, b.rend = 0, 0
		} else if b.rend == len(b.buf) && b.rstart > 0 {
			b.rend = copy(b.buf, b.buf[b.rstart:b.rend])
			b.rstart = 0
		}
		if b.rend == len(b.buf) {
			x.fail(errHeadTooLarge)
			return
		}
		n, err := sysRead(b.fd, b.buf[b.rend:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			b.readReady = false
			return
		case err != nil || n == 0:
			b.eof(err)
			return
		}
		if n < len(b.buf)-b.rend && !b.peerClosed {
			b.readReady = false
		}
		b.rend += n
		b.gotBytes = true
		x.process()
	}
}

// eof handles the backend closing (or resetting) the connection.
func (b *backConn) eof(err error) {
	x := b.x
	switch {
	case b.state == bBody && x.resp.mode == bodyClose && err == nil:
		x.emit(true, lastChunk)
	case b.state == bHead && !b.gotBytes && b.reused && x.idempotent && !x.stale:
		b.resendFresh()
	default:
		if err == nil {
			err = io.ErrUnexpectedEOF
		} else {
			err = &net.OpError{Op: "read", Net: "tcp", Err: err}
		}
		b.failed(err)
	}
}

// failed: the connection broke before the exchange was done.
func (b *backConn) failed(err error) {
	x := b.x
	if b.state == bWriting && b.reused && x.idempotent && !x.stale {
		b.resendFresh()
		return
	}
	x.fail(err)
}

// resendFresh handles a pooled connection the backend closed while it sat idle and
// our request was on its way (nothing was processed): the request goes again, once,
// on a fresh connection to the same member.
func (b *backConn) resendFresh() {
	x := b.x
	x.stale = true
	b.x, x.b = nil, nil
	b.close()
	b.l.dial(x, x.m)
}

func (b *backConn) close() {
	if b.closed {
		return
	}
	b.closed = true
	b.l.closeFD(b.fd)
	b.gauge.Add(-1)
}

var lastChunk = []byte("0\r\n\r\n")

// epollReadsPerTurn bounds the reads (of up to headMax each) one response gets before
// the loop serves its other connections.
const epollReadsPerTurn = 16

// dial connects to m for x in a goroutine and continues x on the loop.
func (l *evLoop) dial(x *exchange, m *proxy.Member) {
	addr, gen := m.DialAddr(), x.gen
	go func() {
		fd := -1
		conn, err := epollDialer.Dial("tcp", addr)
		if err == nil {
			fd, err = dupFD(conn)
			_ = conn.Close()
		}
		if !l.post(func() { l.dialed(x, gen, addr, fd, err) }) && fd >= 0 {
			_ = unix.Close(fd)
		}
	}()
}

func (l *evLoop) dialed(x *exchange, gen uint32, addr string, fd int, err error) {
	var b *backConn
	if err == nil {
		b = &backConn{l: l, fd: fd, addr: addr, gauge: l.p.UpstreamGauge(addr),
			buf: make([]byte, headMax), writeReady: true}
		if err = l.register(fd, b); err != nil {
			_ = unix.Close(fd)
			b = nil
		} else {
			b.gauge.Add(1)
		}
	}
	if x.c.x != x || x.c.closed || x.gen != gen {
		// The exchange ended or moved on meanwhile (client gone, attempt deadline,
		// another member): keep the connection for the next request.
		if b != nil {
			l.release(b)
		}
		return
	}
	if err != nil {
		x.fail(err)
		return
	}
	x.send(b)
}

// takeIdle returns the most recently used idle connection to addr, if any.
func (l *evLoop) takeIdle(addr string) *backConn {
	list := l.idle[addr]
	for len(list) > 0 {
		b := list[len(list)-1]
		list = list[:len(list)-1]
		l.idle[addr] = list
		if !b.closed {
			return b
		}
	}
	return nil
}

// release pools b for the next request to its address.
func (l *evLoop) release(b *backConn) {
	b.x = nil
	if l.closing || len(l.idle[b.addr]) >= epollMaxIdlePerAddr {
		b.close()
		return
	}
	b.state, b.reused, b.idleSince, b.gotBytes = bIdle, true, l.now, false
	b.rstart, b.rend = 0, 0
	l.idle[b.addr] = append(l.idle[b.addr], b)
	if b.readReady {
		b.checkIdle()
	}
}

func (l *evLoop) dropIdle(b *backConn) {
	list := l.idle[b.addr]
	for i, o := range list {
		if o == b {
			l.idle[b.addr] = append(list[:i], list[i+1:]...)
			return
		}
	}
}

// exchange is one request on its way through the proxy: the attempt on a member,
// possibly a retry on another, and the response streaming back. Its attempts go
// through the core's Begin / EndAt / RetryTarget (proxy/attempt.go) and its verdict.
type exchange struct {
	c          *clientConn
	m          *proxy.Member
	b          *backConn
	pinned     bool
	idempotent bool
	replay     bool // may still go to another member (replayable and not retried)
	stale      bool // already resent after a stale keep-alive connection
	head       bool // HEAD: the response has no body
	gen        uint32

	attemptStart time.Time
	attemptOpen  bool
	// headBy is the attempt deadline: connect and response head (ATTEMPT_TIMEOUT).
	headBy time.Time

	resp     respHead
	status   int
	sent     bool // the response head went to the client: no retry, no error page
	chunkOut bool // the body is re-chunked for the client (backend closes to end it)
	remain   int64
	cs       chunkScanner
	bodyDone bool

	// For the access log: members tried, body bytes sent, the last verdict's fault.
	attempts int
	bytes    int64
	fault    proxy.Fault
}

// attempt sends the request to m on an idle connection or a new one.
func (x *exchange) attempt(m *proxy.Member) {
	l := x.c.l
	x.m = m
	x.gen++
	x.attempts++
	x.attemptOpen = true
	x.attemptStart = l.p.Begin(m)
	x.headBy = x.attemptStart.Add(l.e.opts.AttemptTimeout)
	x.c.deadline = x.headBy
	if b := l.takeIdle(m.DialAddr()); b != nil {
		x.send(b)
		return
	}
	l.dial(x, m)
}

// send writes the request head, rewritten for x.m, on b.
func (x *exchange) send(b *backConn) {
	c, m := x.c, x.m
	x.b, b.x = b, x
	u := upstreamHead{uri: c.req.uri, hostStr: m.Target().Host, color: m.Colour(), clientIP: c.ip}
	if c.l.e.opts.PreserveHost {
		u.hostStr, u.host = "", c.req.host
	}
	if t := m.Target(); !(t.Path == "" || t.Path == "/") || t.RawQuery != "" {
		u.uri = []byte(proxy.JoinTargetURI(t, string(c.req.uri)))
	}
	b.wbuf = c.req.appendUpstream(b.wbuf[:0], &u)
	b.wpos, b.state, b.gotBytes = 0, bWriting, false
	b.rstart, b.rend = 0, 0
	x.cs = chunkScanner{}
	b.writeRequest()
}

// process handles the bytes b read: the response head, then body.
func (x *exchange) process() {
	b, c, p := x.b, x.c, x.c.l.p
	if b.state == bHead {
		for {
			ok, err := parseResponseHead(b.buf[b.rstart:b.rend], headMax, x.head, &x.resp)
			if err != nil {
				x.fail(err)
				return
			}
			if !ok {
				return
			}
			b.rstart += x.resp.size
			if x.resp.status >= 200 {
				break
			}
			if x.resp.status == http.StatusSwitchingProtocols {
				x.fail(errBadResponse) // upgrades never take this path
				return
			}
			// Interim responses (100, 103) are not passed on.
		}
		if x.resp.status == http.StatusBadGateway && x.replay {
			if v := x.end(proxy.Outcome{Status: http.StatusBadGateway}); v.Retry {
				b.x, x.b = nil, nil
				b.close()
				x.retryElsewhere(v)
				return
			}
		}
		x.status = x.resp.status
		c.closing = c.req.connClose || c.closeAfter || c.l.closing
		x.remain = x.resp.length
		x.chunkOut = x.resp.mode == bodyClose
		cr := clientResponse{xproxy: c.l.e.opts.Hostname, date: c.l.dateValue(),
			chunked: x.resp.mode == bodyChunked || x.chunkOut, close: c.closing}
		cr.setCookie = p.StickyCookie(x.m, x.pinned, false)
		c.hbuf = x.resp.appendClient(c.hbuf[:0], &cr)
		b.state = bBody
		x.sent = true
		x.body(c.hbuf)
		return
	}
	x.body(nil)
}

// body forwards the body bytes in b's buffer (after head, if any).
func (x *exchange) body(head []byte) {
	b, c := x.b, x.c
	avail := b.buf[b.rstart:b.rend]
	var data []byte
	done := false
	switch x.resp.mode {
	case bodyNone:
		done = true
	case bodyLength:
		k := min(int64(len(avail)), x.remain)
		data, x.remain = avail[:k], x.remain-k
		done = x.remain == 0
		x.bytes += k
	case bodyChunked:
		seen := x.cs.data
		n, d, err := x.cs.scan(avail)
		if err != nil {
			x.fail(err) // the head is out: this cuts the stream
			return
		}
		data, done = avail[:n], d
		x.bytes += x.cs.data - seen // the payload, not the framing passed through
	case bodyClose:
		data = avail
		x.bytes += int64(len(data))
	}
	b.rstart += len(data)
	if x.chunkOut && len(data) > 0 {
		c.csz = strconv.AppendInt(c.csz[:0], int64(len(data)), 16)
		c.csz = append(c.csz, "\r\n"...)
		x.emit(done, head, c.csz, data, crlf)
		return
	}
	x.emit(done, head, data)
}

// emit writes to the client; done marks the end of the response.
func (x *exchange) emit(done bool, iov ...[]byte) {
	if done {
		x.bodyDone = true
		// Recorded before the last bytes go out: a client that has its answer
		// finds it counted in /status, as with the other engines.
		x.end(proxy.Outcome{Status: x.status, Sent: true})
	}
	if x.c.write(iov...) {
		x.c.deadline = x.c.l.readDeadline()
		if x.bodyDone {
			x.finish()
		}
	}
}

// clientDrained continues once the client took everything queued.
func (x *exchange) clientDrained() {
	if x.bodyDone {
		x.finish()
		return
	}
	if x.b != nil {
		x.b.pump()
	}
}

// finish completes the exchange: statistics, the backend connection back to the
// pool (or closed), and the client on to its next request.
func (x *exchange) finish() {
	c, b, l := x.c, x.b, x.c.l
	x.end(proxy.Outcome{Status: x.status, Sent: true})
	x.b = nil
	if b != nil {
		if x.resp.close || b.rstart != b.rend || b.state != bBody {
			b.x = nil
			b.close()
		} else {
			l.release(b)
		}
	}
	if c.l.p.AccessLogging() {
		c.logAccess(x.status, x.bytes, x)
	}
	c.x = nil
	c.consumed()
	c.responded()
	if !c.closed {
		c.serve()
	}
}

// end closes the open attempt, if any, with the core's verdict on o (a zero Verdict
// when it was closed already).
func (x *exchange) end(o proxy.Outcome) proxy.Verdict {
	if !x.attemptOpen {
		return proxy.Verdict{}
	}
	x.attemptOpen = false
	v := x.c.l.p.EndAt(x.m, x.attemptStart, x.c.l.now, o, x.replay)
	x.fault = v.Fault
	return v
}

// fail: the backend gave no usable response (err says why). Before anything reached
// the client the request goes to another member when the verdict allows, else the
// client gets the verdict's answer; after, the stream is cut.
func (x *exchange) fail(err error) {
	c := x.c
	if b := x.b; b != nil {
		b.x, x.b = nil, nil
		b.close()
	}
	v := x.end(proxy.Outcome{Err: err, Sent: x.sent})
	if x.sent {
		c.abort()
		return
	}
	c.l.e.log.Debug("backend error", "host", x.m.DialAddr(), "err", err.Error())
	if v.Retry {
		x.retryElsewhere(v)
		return
	}
	if v.Answer == 0 {
		v.Answer, v.Message = proxy.GatewayAnswer(err)
	}
	c.local(v.Answer, v.Message, false)
	c.serveAfterLocal()
}

// retryElsewhere sends the request to another member once; with none, the client
// gets the failed attempt's verdict.
func (x *exchange) retryElsewhere(v proxy.Verdict) {
	c, p := x.c, x.c.l.p
	x.replay, x.stale = false, false
	next := p.RetryTarget(x.m)
	if next == nil {
		c.local(v.Status, v.Message, false)
		c.serveAfterLocal()
		return
	}
	x.attempt(next)
}

// abandon ends the exchange because the client went away.
func (x *exchange) abandon() {
	if b := x.b; b != nil {
		b.x, x.b = nil, nil
		b.close()
	}
	x.end(proxy.Outcome{Client: proxy.ErrClientGone, Sent: x.sent})
	if c := x.c; c.l.p.AccessLogging() {
		status := 0
		if x.sent {
			status = x.status
		}
		c.logAccess(status, x.bytes, x)
	}
	x.c.x = nil
}
