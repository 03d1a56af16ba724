package proxy

import (
	"net/http"
	"time"

	"github.com/archwayhq/archway/proxy/accesslog"
)

// The access log: one line per client request, for whichever engine served it
// (ACCESS_LOG; off by default). Engines fill an AccessEntry when a request is over and
// call LogAccess; what a line holds is decided here and how it is spelled in
// proxy/accesslog, once. The proxy's own probes (/healthz, /readyz) are not logged: a
// container health check would write a line every few seconds.

// AccessEntry is one client request as the access log records it.
type AccessEntry struct {
	Client string // the client's IP address
	Method string
	Target string // the request target as the client sent it
	// Status is the status the proxy answered with; 0 when it sent none (the client
	// went away first). A response that broke off mid-body keeps its status, with
	// Fault saying whose doing it was.
	Status int
	// Bytes are the response body bytes the proxy wrote to the client; LogAccess
	// writes none for HEAD.
	Bytes    int64
	Duration time.Duration // from the request head read to the response's end
	// Member is the member of the last attempt; nil when the proxy answered itself.
	Member *Member
	// Attempts is how many members were tried (2 after a retry elsewhere).
	Attempts int
	// Fault is the last attempt's verdict, or the client's fault for a refused request.
	Fault  Fault
	Engine string // the engine that served the request: "epoll" or "nethttp"
}

// AccessLogging reports whether the access log is on: engines build an AccessEntry
// only then, so that a request costs nothing extra when it is off.
func (p *Proxy) AccessLogging() bool { return p.access.Load() != nil }

// SetAccessLog turns the access log on, to l, or off (nil): SIGHUP applies ACCESS_LOG
// so. A request in flight is logged if the log is on when it ends (the epoll engine)
// or both when it starts and when it ends (nethttp).
func (p *Proxy) SetAccessLog(l *accesslog.Log) {
	if l != nil {
		p.accessSeen.Store(l)
	}
	p.access.Store(l)
}

// LogAccess queues e's line, if the access log is on: formatting and writing happen
// on the log's own goroutine (proxy/accesslog).
func (p *Proxy) LogAccess(e *AccessEntry) {
	l := p.access.Load()
	if l == nil {
		return
	}
	le := accesslog.Entry{Time: time.Now(), Client: e.Client, Method: e.Method, Target: e.Target,
		Status: e.Status, Bytes: e.Bytes, Duration: e.Duration, Attempts: e.Attempts,
		Fault: e.Fault.String(), Engine: e.Engine}
	if e.Method == http.MethodHead {
		le.Bytes = 0 // an engine may count a local answer's body the server then drops
	}
	if e.Member != nil {
		le.Color, le.Member = e.Member.colour, e.Member.url
	}
	l.Add(&le)
}

// AccessLogDropped is the number of access log lines not written (the queue was full
// or the output refused them); ok is false when the access log was never on.
func (p *Proxy) AccessLogDropped() (n uint64, ok bool) {
	l := p.accessSeen.Load()
	if l == nil {
		return 0, false
	}
	return l.Dropped(), true
}
