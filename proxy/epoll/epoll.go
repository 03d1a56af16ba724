//go:build linux

package epoll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/nethttp"
)

// The epoll engine (ENGINE=epoll) serves the proxy listener from event loops: one
// goroutine per loop waits on epoll for every connection it owns, client and backend
// alike, and reads a socket only when epoll said it has data — the way nginx works.
// The goroutine-per-connection engines read until EAGAIN and park in the netpoller
// instead, which costs about two extra syscalls and a wake-up per request
// (loadbench/FINDINGS.md). A request and its backend connection stay on one loop, so
// forwarding involves no other goroutine.
//
// The loops serve the common request: HTTP/1.1 without a body (GET, HEAD, ...). A
// connection whose next request is anything else (a body, an upgrade, HTTP/1.0, an
// unusual target or head) is handed, with the bytes already read, to a net/http
// server running the nethttp engine's handler, and stays there. Selection, health,
// retries, stickiness and statistics are the shared code in every case.

const (
	// epollIdleTimeout closes idle client keep-alive and pooled backend connections.
	epollIdleTimeout = 90 * time.Second
	// epollReadTimeout bounds reading a request head, waiting for a response head,
	// and any stall while a response streams.
	epollReadTimeout = 60 * time.Second
	// epollMaxIdlePerAddr caps pooled backend connections per address and loop.
	epollMaxIdlePerAddr = 512
	// epollEvents is how many events one epoll_wait returns at most.
	epollEvents = 256
)

// Engine is the epoll engine: event loops on the proxy listener, a server.Engine for
// internal/server's drain and shutdown. Create it with New.
type Engine struct {
	p      *proxy.Proxy
	opts   proxy.Options
	log    *slog.Logger
	ready  *server.Readiness
	nloops int
	nh     *nethttp.Handler // serves what the loops hand over
	// handovers counts client connections given to net/http (epoll_handovers).
	handovers atomic.Uint64

	fb   *http.Server // net/http for handed-over connections
	fbln *connQueue

	// readTimeout and idleTimeout are epollReadTimeout and epollIdleTimeout; tests
	// shorten them.
	readTimeout, idleTimeout time.Duration

	mu      sync.Mutex
	closing bool
	loops   []*evLoop
	served  chan struct{}
	started bool
}

// New returns the epoll engine for p with loops event loops (0: GOMAXPROCS); what the
// loops do not serve goes to nh. Its listener must be a TCP listener (it accepts on
// the file descriptor) and is not wrapped by TrackListener: the engine counts open
// connections itself. It reports epoll_handovers through p.AddCounter.
func New(p *proxy.Proxy, nh *nethttp.Handler, ready *server.Readiness, loops int) *Engine {
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	e := &Engine{
		p: p, opts: p.Options(), log: p.Logger(), ready: ready, nloops: loops, nh: nh,
		fbln: newConnQueue(), served: make(chan struct{}),
		readTimeout: epollReadTimeout, idleTimeout: epollIdleTimeout,
	}
	e.fb = &http.Server{
		Handler:           e.chosenHandler(nh.Front(ready)),
		ConnContext:       connContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       epollIdleTimeout,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	p.AddCounter(proxy.Counter{Name: "epoll_handovers", Value: e.handovers.Load,
		Help: "Client connections the epoll engine handed to net/http (a request with a body, an upgrade, HTTP/1.0, an https:// member, ...)."})
	return e
}

// Serve runs the loops until Shutdown or Close; it returns http.ErrServerClosed.
func (e *Engine) Serve(ln net.Listener) error {
	lfd, err := dupFD(ln)
	if err != nil {
		return fmt.Errorf("epoll engine: listener: %w", err)
	}
	e.mu.Lock()
	if e.closing || e.started {
		e.mu.Unlock()
		_ = unix.Close(lfd)
		return http.ErrServerClosed
	}
	e.started = true
	e.fbln.addr = ln.Addr()
	for i := range e.nloops {
		l, err := newLoop(e, lfd)
		if err != nil {
			for _, l := range e.loops {
				l.closeFDs()
			}
			e.loops = nil
			e.mu.Unlock()
			_ = unix.Close(lfd)
			close(e.served)
			return fmt.Errorf("epoll engine: loop %d: %w", i, err)
		}
		e.loops = append(e.loops, l)
	}
	loops := e.loops
	e.mu.Unlock()

	fbDone := make(chan struct{})
	go func() {
		_ = e.fb.Serve(e.fbln)
		close(fbDone)
	}()
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(l.run)
	}
	wg.Wait()
	_ = unix.Close(lfd)
	_ = ln.Close()
	<-fbDone
	close(e.served)
	return http.ErrServerClosed
}

// Shutdown stops accepting, closes idle connections, lets every request in flight
// finish (its response says Connection: close) and waits for the loops to end.
func (e *Engine) Shutdown(ctx context.Context) error {
	loops := e.stop()
	for _, l := range loops {
		l.post(l.beginClose)
	}
	fbErr := e.fb.Shutdown(ctx)
	if len(loops) == 0 {
		return fbErr
	}
	select {
	case <-e.served:
		return fbErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cuts every connection at once.
func (e *Engine) Close() error {
	loops := e.stop()
	for _, l := range loops {
		l.post(l.forceClose)
	}
	return e.fb.Close()
}

func (e *Engine) stop() []*evLoop {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closing = true
	return e.loops
}

// dupFD returns a duplicate of c's file descriptor (non-blocking, close-on-exec); the
// duplicate shares the socket, so c can be closed once the loops own the copy.
func dupFD(c any) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("dup: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// evHandler is a connection owned by a loop.
type evHandler interface {
	onEvent(events uint32)
}

// evLoop is one event loop: an epoll instance, the connections registered in it
// and its pool of idle backend connections. Only its goroutine touches them; other
// goroutines hand it work with post.
type evLoop struct {
	e      *Engine
	p      *proxy.Proxy
	epfd   int
	epFile *os.File        // epfd, registered with Go's poller
	epRaw  syscall.RawConn // to wait on it
	// waitUntil is when the poller's read deadline on epfd next needs moving.
	waitUntil time.Time
	wakefd    int
	lfd       int

	handlers []evHandler // by file descriptor
	clients  map[*clientConn]struct{}
	// load counts clients, including those handed to the loop and not yet adopted;
	// other loops read it to balance new connections.
	load  atomic.Int64
	idle  map[string][]*backConn // by dial address, most recently used last
	bufs  [][]byte               // free read buffers
	again []*backConn            // responses to go on with next turn (pump)

	mu    sync.Mutex
	tasks []func()

	now       time.Time
	lastSweep time.Time
	closing   bool
	// acceptPaused: the listener is out of epoll after accept ran out of file
	// descriptors; the next sweep puts it back.
	acceptPaused bool
	stopped      bool   // set by forceClose: leave the loop now
	dead         bool   // the loop has ended; guarded by mu (post reads it)
	date         []byte // Date header value, refreshed each second
	dateSec      int64
	events       [epollEvents]unix.EpollEvent
	pollFn       func(uintptr) bool
	nev          int
	perr         error
	iov          []unix.Iovec
}

func newLoop(e *Engine, lfd int) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	l := &evLoop{e: e, p: e.p, epfd: epfd, wakefd: wakefd, lfd: lfd,
		clients: map[*clientConn]struct{}{}, idle: map[string][]*backConn{}, now: time.Now()}
	l.lastSweep = l.now
	l.pollFn = l.poll
	// The loop waits in Go's own poller, on the epoll descriptor (readable when any
	// of its connections has an event): a blocking epoll_wait would hold the loop's
	// P until the scheduler notices, starving other goroutines (health checks,
	// handed-over connections) meanwhile.
	if err := unix.SetNonblock(epfd, true); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	l.epFile = os.NewFile(uintptr(epfd), "epoll")
	if l.epRaw, err = l.epFile.SyscallConn(); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("epoll fd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	if err := l.watchListener(); err != nil {
		l.closeFDs()
		return nil, err
	}
	return l, nil
}

// watchListener adds the listener to the loop's epoll: level-triggered and
// exclusive, so that one loop wakes per new connection and accepts until the queue
// is empty.
func (l *evLoop) watchListener() error {
	ev := &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.lfd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.lfd, ev); err != nil {
		return fmt.Errorf("epoll_ctl listener: %w", err)
	}
	return nil
}

func (l *evLoop) closeFDs() {
	_ = unix.Close(l.wakefd)
	if l.epFile != nil {
		_ = l.epFile.Close()
	} else {
		_ = unix.Close(l.epfd)
	}
}

// wait returns the next events: at once when there are some (a non-blocking
// epoll_wait), else after parking in Go's poller until there are, or until a second
// passed (timeouts are swept once a second).
func (l *evLoop) wait() (int, error) {
	if len(l.again) > 0 {
		return pollNow(l.epfd, l.events[:])
	}
	// l.now is the start of the turn just done: microseconds old, and the clock is
	// read once a turn rather than twice.
	if l.now.After(l.waitUntil) {
		l.waitUntil = l.now.Add(time.Second)
		_ = l.epFile.SetReadDeadline(l.waitUntil.Add(100 * time.Millisecond))
	}
	err := l.epRaw.Read(l.pollFn)
	n, perr := l.nev, l.perr
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		l.waitUntil = time.Time{}
		return 0, nil
	case err != nil:
		return 0, err
	}
	return n, perr
}

// poll is what wait hands Go's poller (as l.pollFn, bound once: a closure made per
// wait would allocate): one non-blocking epoll_wait, results in l.nev and l.perr.
func (l *evLoop) poll(uintptr) bool {
	l.nev, l.perr = pollNow(l.epfd, l.events[:])
	return l.nev > 0 || l.perr != nil && l.perr != unix.EINTR
}

// run is the loop: wait, dispatch, sweep timeouts, until closed and empty.
func (l *evLoop) run() {
	defer l.exit()
	for !l.stopped {
		n, err := l.wait()
		if err != nil {
			l.e.log.Error("epoll_wait failed; closing the loop's connections", "err", err.Error())
			l.forceClose()
			return
		}
		l.now = time.Now()
		l.dispatch(n)
		if l.now.Sub(l.lastSweep) >= time.Second {
			l.sweep()
		}
		if l.closing && len(l.clients) == 0 {
			return
		}
	}
}

// dispatch handles n events. A panic (a bug) must not take the process, and every
// other connection, down with it: it is logged with its stack and the loop's
// connections are closed, as net/http closes the connection of a handler that
// panicked; the loop goes on accepting.
func (l *evLoop) dispatch(n int) {
	defer func() {
		if r := recover(); r != nil {
			l.e.log.Error("epoll loop panicked; closing its connections", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			for c := range l.clients {
				c.abort()
			}
			for _, list := range l.idle {
				for _, b := range list {
					b.close()
				}
			}
			clear(l.idle)
		}
	}()
	for i := range n {
		ev := &l.events[i]
		fd := int(ev.Fd)
		switch {
		case fd == l.wakefd:
			l.runTasks()
		case fd == l.lfd:
			l.accept()
		case fd < len(l.handlers) && l.handlers[fd] != nil:
			l.handlers[fd].onEvent(ev.Events)
		}
	}
	l.resume()
}

// resume goes on with the responses pump set aside, after the other connections had
// their turn.
func (l *evLoop) resume() {
	again := l.again
	l.again = nil
	for _, b := range again {
		if !b.closed && b.x != nil {
			b.pump()
		}
	}
	clear(again)
	if l.again == nil {
		l.again = again[:0]
	}
}

// exit closes what is left once the loop stops.
func (l *evLoop) exit() {
	for c := range l.clients {
		c.close()
	}
	for _, list := range l.idle {
		for _, b := range list {
			b.close()
		}
	}
	l.idle = map[string][]*backConn{}
	l.mu.Lock()
	l.dead = true
	l.tasks = nil
	l.mu.Unlock()
	l.closeFDs()
}

// post runs f on the loop's goroutine (dial results, shutdown); false when the loop
// has ended and f will not run.
func (l *evLoop) post(f func()) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, f)
	l.mu.Unlock()
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(l.wakefd, one)
	return true
}

func (l *evLoop) runTasks() {
	var buf [8]byte
	_, _ = unix.Read(l.wakefd, buf[:])
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, f := range tasks {
		f()
	}
}

func (l *evLoop) register(fd int, h evHandler) error {
	for fd >= len(l.handlers) {
		l.handlers = append(l.handlers, nil)
	}
	l.handlers[fd] = h
	err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{
		// Edge-triggered: an event says something changed; readReady/writeReady
		// remember it until the connection is ready to act on it.
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd),
	})
	if err != nil {
		l.handlers[fd] = nil
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

// unregister forgets fd; closing it removes it from epoll.
func (l *evLoop) unregister(fd int) {
	if fd < len(l.handlers) {
		l.handlers[fd] = nil
	}
}

// closeFD closes a connection's socket and forgets it.
func (l *evLoop) closeFD(fd int) {
	l.unregister(fd)
	_ = unix.Close(fd)
}

func (l *evLoop) accept() {
	for range 64 {
		fd, sa, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			switch err {
			case unix.EAGAIN, unix.EINTR:
			case unix.ECONNABORTED:
				continue
			default:
				// EMFILE and the like: the connection stays queued and the
				// listener readable, so stop watching it for a second rather than
				// spin on it (nginx does the same).
				l.e.log.Warn("accept failed; pausing accepts for 1s", "err", err.Error())
				_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lfd, nil)
				l.acceptPaused = true
			}
			return
		}
		// The kernel wakes whichever loop it likes (EPOLLEXCLUSIVE tends to pick the
		// same one: measured 61 of 64 wrk connections on one of two loops), so the
		// engine places the connection itself (placeConn); a loop adopts it on its
		// own goroutine.
		t := l.e.placeConn(l)
		t.load.Add(1)
		if t == l {
			l.adopt(fd, sa)
		} else if !t.post(func() { t.adopt(fd, sa) }) {
			t.load.Add(-1)
			_ = unix.Close(fd)
		}
	}
}

// adopt makes an accepted connection one of the loop's clients.
func (l *evLoop) adopt(fd int, sa unix.Sockaddr) {
	if l.closing {
		l.load.Add(-1)
		_ = unix.Close(fd)
		return
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c := &clientConn{l: l, fd: fd, ip: sockaddrIP(sa), deadline: l.now.Add(l.e.idleTimeout)}
	if err := l.register(fd, c); err != nil {
		l.load.Add(-1)
		_ = unix.Close(fd)
		l.e.log.Warn("accept failed", "err", err.Error())
		return
	}
	l.clients[c] = struct{}{}
	l.p.OpenConns().Add(1)
}

// forget drops a client that closed or went to net/http.
func (l *evLoop) forget(c *clientConn) {
	delete(l.clients, c)
	l.load.Add(-1)
}

// loopFill is how many clients a loop takes before the next loop gets any. A few
// connections are served best by one loop: each epoll_wait returns all of their
// events in one batch, where spread over two loops each loop wakes (through Go's
// poller and an OS thread) for its own few and competes for the CPU with whatever
// shares the node. On the 2-core bench, one loop had the lower p99 with 16
// connections (0.77x nginx's against 0.97x for two loops, FINDINGS.md), while two
// loops win on req/s from 64 connections up. nginx shows the same packing under
// light load (the worker that woke last accepts again).
const loopFill = 32

// placeConn is the loop a new connection joins: the first loop with fewer than
// loopFill clients, or, when every loop has that many, the one with the fewest
// (l itself on a tie).
func (e *Engine) placeConn(l *evLoop) *evLoop {
	for _, o := range e.loops {
		if o.load.Load() < loopFill {
			return o
		}
	}
	best, min := l, l.load.Load()
	for _, o := range e.loops {
		if n := o.load.Load(); n < min {
			best, min = o, n
		}
	}
	return best
}

// sockaddrIP is the client address for X-Forwarded-For.
func sockaddrIP(sa unix.Sockaddr) []byte {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return []byte(net.IP(a.Addr[:]).String())
	case *unix.SockaddrInet6:
		ip := net.IP(a.Addr[:])
		if v4 := ip.To4(); v4 != nil {
			return []byte(v4.String())
		}
		return []byte(ip.String())
	}
	return []byte("unknown")
}

// sweep enforces timeouts (checked once a second, so they are ±1 s).
func (l *evLoop) sweep() {
	l.lastSweep = l.now
	if l.acceptPaused && !l.closing {
		l.acceptPaused = false
		if err := l.watchListener(); err != nil {
			l.e.log.Error("resuming accepts failed", "err", err.Error())
		}
	}
	for c := range l.clients {
		if l.now.After(c.deadline) {
			c.timedOut()
		}
	}
	for addr, list := range l.idle {
		keep := list[:0]
		for _, b := range list {
			if l.now.Sub(b.idleSince) > l.e.idleTimeout {
				b.close()
			} else {
				keep = append(keep, b)
			}
		}
		if len(keep) == 0 {
			delete(l.idle, addr)
		} else {
			l.idle[addr] = keep
		}
	}
}

// beginClose stops accepting, closes idle clients and marks busy ones to close after
// their response.
func (l *evLoop) beginClose() {
	if l.closing {
		return
	}
	l.closing = true
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lfd, nil)
	for c := range l.clients {
		if c.x == nil && c.rend == c.rstart && len(c.out) == 0 {
			c.close()
		} else {
			c.closeAfter = true
		}
	}
}

func (l *evLoop) forceClose() {
	l.closing = true
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lfd, nil)
	for c := range l.clients {
		c.abort()
	}
	l.stopped = true
}

// getBuf and putBuf recycle read buffers: a connection holds one only while it has
// unread bytes or an exchange, so idle keep-alive connections cost no buffer.
func (l *evLoop) getBuf() []byte {
	if n := len(l.bufs); n > 0 {
		b := l.bufs[n-1]
		l.bufs = l.bufs[:n-1]
		return b
	}
	return make([]byte, headMax)
}

func (l *evLoop) putBuf(b []byte) {
	if len(l.bufs) < 1024 {
		l.bufs = append(l.bufs, b[:headMax])
	}
}

// readDeadline and idleDeadline are the deadlines of a step starting now.
func (l *evLoop) readDeadline() time.Time { return l.now.Add(l.e.readTimeout) }
func (l *evLoop) idleDeadline() time.Time { return l.now.Add(l.e.idleTimeout) }

// dateValue is the current Date header value, formatted once a second.
func (l *evLoop) dateValue() []byte {
	if s := l.now.Unix(); s != l.dateSec {
		l.dateSec = s
		l.date = l.now.UTC().AppendFormat(l.date[:0], http.TimeFormat)
	}
	return l.date
}

// writev writes iov to fd in one system call and returns how many bytes went.
func (l *evLoop) writev(fd int, iov [][]byte) (int, error) {
	l.iov = l.iov[:0]
	for _, b := range iov {
		if len(b) > 0 {
			v := unix.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			l.iov = append(l.iov, v)
		}
	}
	if len(l.iov) == 0 {
		return 0, nil
	}
	for {
		n, err := writevRaw(fd, l.iov)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// connQueue is the net.Listener of the net/http server that takes handed-over
// connections.
type connQueue struct {
	ch     chan net.Conn
	done   chan struct{}
	once   sync.Once
	addr   net.Addr
	closed atomic.Bool
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn, 64), done: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() {
		q.closed.Store(true)
		close(q.done)
	})
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// push hands c over, or closes it when the server is gone. It never blocks a loop
// for long: the server accepts in its own goroutine.
func (q *connQueue) push(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		_ = c.Close()
	}
}

// handedConn is a client connection handed to net/http: the bytes the loop already
// read come first, and closing it updates the open-connection count. chosen, when
// set, is the member the loop picked for the first request on it.
type handedConn struct {
	net.Conn
	pre    []byte
	gauge  *atomic.Int64
	once   sync.Once
	chosen *chosenMember
}

// chosenMember carries a loop's pick to net/http for one request (see handedConn).
type chosenMember struct {
	m      *proxy.Member
	pinned bool
	used   atomic.Bool
}

type chosenKey struct{}

// connContext puts a handed connection's chosen member into its requests' context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*handedConn); ok && hc.chosen != nil {
		return context.WithValue(ctx, chosenKey{}, hc.chosen)
	}
	return ctx
}

// chosenHandler serves the first request of a connection the loop chose a member for
// on that member, and every other request as the nethttp engine does.
func (e *Engine) chosenHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ch, ok := r.Context().Value(chosenKey{}).(*chosenMember); ok && !ch.used.Swap(true) {
			e.nh.ServeChosen(w, r, ch.m, ch.pinned)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *handedConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *handedConn) Close() error {
	c.once.Do(func() { c.gauge.Add(-1) })
	return c.Conn.Close()
}

// handOver moves a client connection from the loop to net/http; m, when not nil, is
// the member chosen for its first request.
func (l *evLoop) handOver(fd int, pre []byte, m *proxy.Member, pinned bool) {
	l.unregister(fd)
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	f := os.NewFile(uintptr(fd), "client")
	nc, err := net.FileConn(f) // a duplicate, registered with Go's poller
	_ = f.Close()
	if err != nil {
		l.p.OpenConns().Add(-1)
		l.e.log.Warn("handing a connection to net/http failed", "err", err.Error())
		return
	}
	l.e.handovers.Add(1)
	hc := &handedConn{Conn: nc, pre: bytes.Clone(pre), gauge: l.p.OpenConns()}
	if m != nil {
		hc.chosen = &chosenMember{m: m, pinned: pinned}
	}
	l.e.fbln.push(hc)
}

func writevRaw(fd int, iov []unix.Iovec) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// The loops' socket calls never block (every socket is non-blocking), so they go
// straight to the kernel without telling the Go scheduler (RawSyscall): a loopback
// write can take long enough (it runs the receiver's TCP processing too) that the
// scheduler hands the loop's P to another thread and makes the loop wait for one on
// return. Measured with perf under wrk: 15-20% more req/s, a third fewer context
// switches per request.

func sysRead(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sysWrite(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// pollNow is epoll_wait with a zero timeout.
func pollNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
