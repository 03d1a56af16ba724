package proxy

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// The access log: one line per client request, written by the core for whichever
// engine served it (ACCESS_LOG; off by default). Engines fill an AccessEntry when a
// request is over and call LogAccess; what a line holds and how it is spelled is
// decided here, once. The proxy's own probes (/healthz, /readyz) are not logged: a
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
	// Bytes are the response body bytes the proxy wrote to the client (none for HEAD).
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
func (p *Proxy) AccessLogging() bool { return p.access != nil }

// LogAccess writes e to the access log, if it is on.
func (p *Proxy) LogAccess(e *AccessEntry) {
	if p.access == nil {
		return
	}
	colour, member := "", ""
	if e.Member != nil {
		colour, member = e.Member.colour, e.Member.URL()
	}
	p.access.LogAttrs(context.Background(), slog.LevelInfo, "access",
		slog.String("client", e.Client),
		slog.String("method", e.Method),
		slog.String("target", e.Target),
		slog.Int("status", e.Status),
		slog.Int64("bytes", e.Bytes),
		slog.Float64("duration_ms", float64(e.Duration.Microseconds())/1000),
		slog.String("color", colour),
		slog.String("member", member),
		slog.Int("attempts", e.Attempts),
		slog.String("fault", e.Fault.String()),
		slog.String("engine", e.Engine),
	)
}

// AccessLogDropped is the number of access log lines not written (the queue was full
// or the output refused them); 0 when the log is off.
func (p *Proxy) AccessLogDropped() uint64 {
	if p.opts.AccessLog == nil {
		return 0
	}
	return p.opts.AccessLog.Dropped()
}

// newAccessLogger is the access log's logger over w in format ("json", else text): at
// info whatever LOG_LEVEL says, since an operator who turns the log on wants its lines.
func newAccessLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
