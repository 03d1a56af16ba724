// Package nethttp is archway-proxy's standard-library engine: a net/http handler that
// forwards every request through httputil.ReverseProxy (with the core's Rewrite) over
// the core's Transport. It is the engine on systems without event loops, the engine
// the epoll engine hands every request it does not serve itself to, and the reference
// the comparison tests hold the other engine to. It knows the core only through the
// core's exported API: Pick, Begin, End, RetryTarget and the forward spec.
package nethttp

import (
	"context"
	"errors"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
)

// Handler proxies requests for p. Create it with New.
type Handler struct {
	p       *proxy.Proxy
	log     *slog.Logger
	errLog  *stdlog.Logger
	opts    proxy.Options
	xproxy  []string
	bufPool bufferPool
	writers sync.Pool
}

// New returns the engine's handler for p.
func New(p *proxy.Proxy) *Handler {
	h := &Handler{p: p, log: p.Logger(), opts: p.Options()}
	h.errLog = slog.NewLogLogger(h.log.Handler(), slog.LevelDebug)
	h.xproxy = []string{h.opts.Hostname}[:1:1]
	h.writers.New = func() any { return new(respWriter) }
	return h
}

// Front serves the proxy with go-proxy-multiarch's /healthz (liveness) and /readyz
// (readiness: ready and at least one healthy backend) answered locally.
func (h *Handler) Front(ready *server.Readiness) http.Handler {
	readyz := ready.Readyz()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header()["X-Proxy"] = h.xproxy
			server.Healthz(w, r)
		case "/readyz":
			w.Header()["X-Proxy"] = h.xproxy
			readyz(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// ServeHTTP proxies one request: the forward spec's local answers and limits, a
// colour and member chosen, then attempts judged by the core — at most one more, on
// another member, when the verdict allows it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.p.CountRequest()
	h.ServeChosen(w, r, nil, false)
}

// ServeChosen is ServeHTTP without counting the request, and with the member already
// chosen when m is not nil: the epoll engine hands a request whose member it does not
// serve itself (an https:// backend) over with its pick and count, so the split stays
// exact.
func (h *Handler) ServeChosen(w http.ResponseWriter, r *http.Request, m *proxy.Member, pinned bool) {
	p := h.p
	var acc accessRecord
	if p.AccessLogging() {
		acc.start = time.Now()
		defer h.logAccess(r, &acc)
	}
	w.Header()["X-Proxy"] = h.xproxy
	if code, msg := p.Refuse(r); code != 0 {
		p.CountClientFault()
		writeLocal(w, code, msg)
		acc.answered(code, msg, proxy.FaultClient)
		return
	}
	if m == nil {
		if m, pinned = p.Pick(stdRequest{r}); m == nil {
			h.noBackend(w)
			acc.answered(http.StatusServiceUnavailable, proxy.MsgNoBackend, proxy.FaultNone)
			return
		}
	}
	if len(r.TransferEncoding) > 0 {
		// A chunked request may also have carried a Content-Length, which net/http
		// dropped before this handler could see it: RFC 9112 §6.1 then requires the
		// connection to end after the answer (a smuggling defence), so every chunked
		// request ends its connection.
		w.Header().Set("Connection", "close")
	}
	if c := p.StickyCookie(m, pinned, r.TLS != nil); c != "" {
		w.Header().Add("Set-Cookie", c)
	}

	rw := h.writers.Get().(*respWriter)
	rw.reset(w)
	acc.rw = rw
	var body *clientBody
	if r.Body != nil && r.Body != http.NoBody {
		body = watchBody(w, r, h.opts.MaxBody, h.opts.BodyTimeout)
	}
	replay := proxy.Replayable(r)
	for {
		acc.member = m
		acc.attempts++
		o := h.forward(rw, r, m, replay, body)
		v := p.End(m, rw.start, o, replay)
		if v.Retry {
			replay = false
			if next := p.RetryTarget(m); next != nil {
				rw.resetAttempt()
				m = next
				continue
			}
			v.Answer = v.Status
		}
		acc.status, acc.bytes, acc.fault, acc.done = rw.status, rw.bytes, v.Fault, true
		if v.Answer != 0 {
			writeLocal(w, v.Answer, v.Message)
			acc.answered(v.Answer, v.Message, v.Fault)
		} else if v.Fault != proxy.FaultNone {
			h.log.Debug("request failed", "fault", v.Fault.String(), "color", m.Colour(), "member", m.URL(), "err", errString(o))
		}
		break
	}
	acc.rw = nil
	rw.w = nil
	h.writers.Put(rw)
}

// accessRecord is what ServeChosen learns for the access log as the request goes.
type accessRecord struct {
	start    time.Time
	status   int
	bytes    int64
	member   *proxy.Member
	attempts int
	fault    proxy.Fault
	done     bool
	// rw is the response writer while an attempt may still panic (a response that
	// broke off mid-body): the record is then read from it.
	rw *respWriter
}

// answered records a local answer.
func (a *accessRecord) answered(code int, msg string, f proxy.Fault) {
	a.status, a.bytes, a.fault, a.done = code, int64(len(msg)), f, true
}

// logAccess writes the request's access log line (deferred: it also runs when an
// attempt aborts the handler).
func (h *Handler) logAccess(r *http.Request, a *accessRecord) {
	if !a.done && a.rw != nil {
		a.status, a.bytes, a.fault = a.rw.status, a.rw.bytes, a.rw.fault
	}
	client := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		client = ap.Addr().Unmap().String() // as the event loops write it
	}
	h.p.LogAccess(&proxy.AccessEntry{Client: client, Method: r.Method, Target: r.RequestURI,
		Status: a.status, Bytes: a.bytes, Duration: time.Since(a.start), Member: a.member,
		Attempts: a.attempts, Fault: a.fault, Engine: proxy.EngineNetHTTP})
}

// forward sends r to m once through its ReverseProxy and reports the Outcome. The
// attempt deadline covers connecting and waiting for the response head; once the head
// arrived (respWriter.WriteHeader) the response streams for as long as it takes. A
// request with a body gets no deadline timer here: an upload may take longer than the
// deadline, and the core's Transport bounds the wait for the head from the moment the
// body was sent (ResponseHeaderTimeout = ATTEMPT_TIMEOUT), the dialer the connect.
func (h *Handler) forward(rw *respWriter, r *http.Request, m *proxy.Member, replay bool, body *clientBody) (o proxy.Outcome) {
	rps := h.proxies(m)
	rp := rps.plain
	if replay {
		rp = rps.retry
	}
	rw.start = h.p.Begin(m)
	ctx, cancel := context.WithCancelCause(r.Context())
	if body == nil {
		rw.timer = time.AfterFunc(h.opts.AttemptTimeout, func() { cancel(proxy.ErrAttemptTimeout) })
	}
	defer func() {
		if rw.timer != nil {
			rw.timer.Stop()
		}
		cancel(nil)
		o = rw.outcome(r, ctx, body)
		if v := recover(); v != nil {
			// ReverseProxy aborts the handler when the response broke off mid-body:
			// record the attempt, then let net/http cut the connection.
			if o.Client == nil && o.Err == nil {
				o.Err = proxy.ErrResponseTruncated
			}
			rw.fault = h.p.End(m, rw.start, o, false).Fault
			panic(v)
		}
	}()
	out := r.WithContext(ctx)
	if body != nil {
		out.Body = body
	}
	rp.ServeHTTP(rw, out)
	return o
}

// memberProxies are a member's two ReverseProxies, kept as its attachment.
type memberProxies struct {
	plain *httputil.ReverseProxy
	// retry is plain with a ModifyResponse that turns a 502 into a retry signal; used
	// only for requests that may be retried.
	retry *httputil.ReverseProxy
}

// errUpstream502 is returned by the retry flavour's ModifyResponse so that a backend's
// 502 reaches ServeChosen before anything was written to the client.
var errUpstream502 = errors.New("backend answered 502 Bad Gateway")

// proxies returns m's ReverseProxies, made on its first request.
func (h *Handler) proxies(m *proxy.Member) *memberProxies {
	if v, ok := m.Attachment().(*memberProxies); ok {
		return v
	}
	rewrite, tr := h.p.Rewrite(m), h.p.Transport()
	mp := &memberProxies{
		plain: &httputil.ReverseProxy{
			Rewrite: rewrite, Transport: tr, BufferPool: &h.bufPool,
			ErrorHandler: errorHandler, ErrorLog: h.errLog,
		},
		retry: &httputil.ReverseProxy{
			Rewrite: rewrite, Transport: tr, BufferPool: &h.bufPool,
			ErrorHandler: errorHandler, ErrorLog: h.errLog,
			ModifyResponse: func(res *http.Response) error {
				if res.StatusCode == http.StatusBadGateway {
					return errUpstream502
				}
				return nil
			},
		},
	}
	return m.Attach(mp).(*memberProxies)
}

// errorHandler is called by ReverseProxy when the backend gave no usable response. It
// only notes the error: ServeChosen answers once the core has judged the attempt.
func errorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	if rw, ok := w.(*respWriter); ok && rw.err == nil {
		rw.err = err
	}
}

func (h *Handler) noBackend(w http.ResponseWriter) {
	h.p.CountNoBackend()
	w.Header().Set("Retry-After", "1")
	writeLocal(w, http.StatusServiceUnavailable, proxy.MsgNoBackend)
}

// writeLocal answers from the proxy itself (text/plain, not cached).
func writeLocal(w http.ResponseWriter, code int, msg string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	if code == http.StatusBadRequest || code == http.StatusRequestTimeout || code == http.StatusRequestEntityTooLarge {
		// The request body is unread or broken: the connection cannot carry another.
		hd.Set("Connection", "close")
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// respWriter observes what ReverseProxy writes through it: whether and what the
// response head was (which also ends the attempt deadline), and the error
// errorHandler noted. It is pooled: one per request in flight.
type respWriter struct {
	w      http.ResponseWriter
	start  time.Time
	timer  *time.Timer
	status int  // the final status written, 0 before
	sent   bool // the head went to the client
	werr   bool // a write to the client failed
	err    error
	bytes  int64       // body bytes written to the client
	fault  proxy.Fault // the verdict on an attempt that aborted the handler
}

func (rw *respWriter) reset(w http.ResponseWriter) { *rw = respWriter{w: w} }

// resetAttempt forgets the failed attempt before a retry.
func (rw *respWriter) resetAttempt() { *rw = respWriter{w: rw.w} }

func (rw *respWriter) Header() http.Header { return rw.w.Header() }

func (rw *respWriter) WriteHeader(code int) {
	if rw.timer != nil {
		rw.timer.Stop() // a response head arrived in time
	}
	if code >= 200 && !rw.sent {
		rw.status, rw.sent = code, true
	}
	rw.w.WriteHeader(code)
}

func (rw *respWriter) Write(b []byte) (int, error) {
	if !rw.sent {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.w.Write(b)
	rw.bytes += int64(n)
	if err != nil {
		rw.werr = true
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (streaming, upgrades).
func (rw *respWriter) Unwrap() http.ResponseWriter { return rw.w }

// outcome is what the attempt came to, for the core's judgement. ctx is the attempt's
// context (its cause says whether the deadline ended it), body the client's watched
// body, if any.
func (rw *respWriter) outcome(r *http.Request, ctx context.Context, body *clientBody) proxy.Outcome {
	o := proxy.Outcome{Status: rw.status, Sent: rw.sent}
	switch {
	case body != nil && body.err != nil:
		o.Client = body.err
	case r.Context().Err() != nil || rw.werr:
		o.Client = proxy.ErrClientGone
	case errors.Is(rw.err, errUpstream502):
		o.Status = http.StatusBadGateway
	case rw.err != nil && errors.Is(context.Cause(ctx), proxy.ErrAttemptTimeout):
		o.Err = proxy.ErrAttemptTimeout
	case rw.err != nil:
		o.Err = rw.err
	}
	return o
}

func errString(o proxy.Outcome) string {
	switch {
	case o.Client != nil:
		return o.Client.Error()
	case o.Err != nil:
		return o.Err.Error()
	}
	return "status " + strconv.Itoa(o.Status)
}

// stdRequest adapts *http.Request to proxy.SelectionInput; one pointer, so the
// conversion to the interface does not allocate.
type stdRequest struct{ r *http.Request }

func (s stdRequest) Header(name string) string {
	if v := s.r.Header[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (s stdRequest) Cookie(name string) string {
	c, err := s.r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}
