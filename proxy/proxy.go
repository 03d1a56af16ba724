package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/archwayhq/archway/internal/server"
)

// Options tune a Proxy. The zero value of a field means its documented default,
// except where "0 disables" is stated.
type Options struct {
	HealthPath     string        // default /healthz
	HealthInterval time.Duration // 0 disables active checks
	HealthTimeout  time.Duration // default 2s
	MaxFails       int           // consecutive failures that eject a member; 0 disables
	FailTimeout    time.Duration // ejection cool-down; default 10s
	DNSRefresh     time.Duration // default 5s
	Resolver       Resolver      // default net.DefaultResolver
	StickyCookie   string        // "" disables
	OverrideHeader string        // "" disables
	PreserveHost   bool          // send the client's Host instead of the backend's
	// AttemptTimeout bounds connecting to a member and waiting for its response head;
	// an idempotent request then goes to another member. Default DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// BodyTimeout bounds each read of a request body (a stalled upload is the
	// client's fault, answered 408); default DefaultBodyTimeout.
	BodyTimeout time.Duration
	// MaxBody is the largest request body forwarded (larger: 413); 0 means no limit.
	MaxBody  int64
	Hostname string // X-Proxy value; default os.Hostname()
	// Engine is EngineNetHTTP or EngineEpoll: which HTTP implementation Serve runs on
	// the proxy listener and forwards with (epoll.go).
	Engine string
	// Loops is the number of event loops of EngineEpoll (0: GOMAXPROCS).
	Loops int
	// Transport carries requests to backends for the nethttp engine; default:
	// NewTransport's tuned http.Transport.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// OptionsFrom maps a parsed Config onto Options.
func OptionsFrom(c *Config) Options {
	return Options{
		HealthPath: c.HealthPath, HealthInterval: c.HealthInterval, HealthTimeout: c.HealthTimeout,
		MaxFails: c.MaxFails, FailTimeout: c.FailTimeout, DNSRefresh: c.DNSRefresh,
		StickyCookie: c.StickyCookie, OverrideHeader: c.OverrideHeader, PreserveHost: c.PreserveHost,
		AttemptTimeout: c.AttemptTimeout, BodyTimeout: c.BodyTimeout, MaxBody: c.MaxBody,
		Engine: c.Engine, Loops: c.Loops,
	}
}

// Proxy is the weighted reverse proxy. Create it with New, give it backends with Apply
// (usually through a Provider), serve it with ServeHTTP or Handler, and run its health
// and discovery loops with Run.
type Proxy struct {
	opts      Options
	log       *slog.Logger
	transport http.RoundTripper
	xproxy    []string
	override  string // canonical override header, "" when disabled
	bufPool   bufferPool
	writers   sync.Pool

	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // serialises writers: Apply, admin edits, health flips, DNS refresh
	members map[string]*member
	dns     *dnsCache

	stats globalStats
	start time.Time
}

// New returns a Proxy with no backends (every request gets 503 until Apply).
func New(opts Options) *Proxy {
	if opts.HealthPath == "" {
		opts.HealthPath = DefaultHealthPath
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = DefaultHealthTimeout
	}
	if opts.FailTimeout <= 0 {
		opts.FailTimeout = DefaultFailTimeout
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.DNSRefresh <= 0 {
		opts.DNSRefresh = DefaultDNSRefresh
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	p := &Proxy{opts: opts, log: opts.Logger, members: map[string]*member{}, start: time.Now()}
	if p.log == nil {
		p.log = slog.Default()
	}
	if opts.Engine == "" {
		opts.Engine = DefaultEngine
		p.opts.Engine = DefaultEngine
	}
	p.transport = opts.Transport
	if p.transport == nil {
		p.transport = p.NewTransport()
	}
	p.xproxy = []string{opts.Hostname}[:1:1]
	if opts.OverrideHeader != "" {
		p.override = http.CanonicalHeaderKey(opts.OverrideHeader)
	}
	p.dns = newDNSCache(opts.Resolver, p.log)
	p.writers.New = func() any { return new(respWriter) }
	return p
}

// NewTransport returns the tuned backend transport: pooled keep-alive connections sized
// for a proxy (many requests to few hosts), bounded connect/TLS/header waits, no
// environment proxy (HTTP_PROXY must not capture backend traffic) and no transparent
// compression (bodies pass through as the backend encoded them). Open connections are
// counted per backend address for /status.
func (p *Proxy) NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           p.dialCounting(d.DialContext),
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: p.opts.AttemptTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// Apply validates specs and swaps in a new snapshot; on error the old one stays. It is
// the apply function handed to a Provider.
func (p *Proxy) Apply(specs []BackendSpec) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applyLocked(specs)
}

func (p *Proxy) applyLocked(specs []BackendSpec) error {
	norm, err := normalizeSpecs(specs)
	if err != nil {
		p.stats.reloadsBad.Add(1)
		return err
	}
	p.snap.Store(p.buildLocked(norm))
	p.stats.reloadsOK.Add(1)
	p.log.Info("backends applied", "backends", weightList(norm))
	return nil
}

// newMember creates a member with its two ReverseProxies. Callers hold p.mu.
func (p *Proxy) newMember(key, colourHeader string, target *url.URL, origin string) *member {
	m := &member{key: key, colour: colourHeader, target: target, origin: origin, dialAddr: target.Host}
	if target.Port() == "" {
		port := "80"
		if target.Scheme == "https" {
			port = "443"
		}
		m.dialAddr = net.JoinHostPort(target.Hostname(), port)
	}
	m.up.Store(true) // optimistic: serve at once; the first active check follows immediately
	color := []string{colourHeader}[:1:1]
	preserve := p.opts.PreserveHost
	rewrite := func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if preserve {
			pr.Out.Host = pr.In.Host
		}
		// Append to the client's chain, as nginx's $proxy_add_x_forwarded_for and the
		// Director-based seeds do; backends that trust it must trust this proxy only.
		if prior, ok := pr.In.Header["X-Forwarded-For"]; ok {
			pr.Out.Header["X-Forwarded-For"] = prior
		}
		pr.SetXForwarded()
		// Set in Rewrite, i.e. after hop-by-hop headers were removed from Out: a
		// client's "Connection: Color" can no longer strip it (golang/go#50580).
		pr.Out.Header["Color"] = color
	}
	errLog := slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)
	m.rp = &httputil.ReverseProxy{
		Rewrite: rewrite, Transport: p.transport, BufferPool: &p.bufPool,
		ErrorHandler: p.errorHandler, ErrorLog: errLog,
	}
	m.rpRetry = &httputil.ReverseProxy{
		Rewrite: rewrite, Transport: p.transport, BufferPool: &p.bufPool,
		ErrorHandler: p.errorHandler, ErrorLog: errLog,
		ModifyResponse: func(res *http.Response) error {
			if res.StatusCode == http.StatusBadGateway {
				return errUpstream502
			}
			return nil
		},
	}
	return m
}

// ServeHTTP proxies one request: the forward spec's local answers and limits, a
// colour and member chosen, then attempts judged by judge (outcome.go) — at most one
// more, on another member, when the verdict allows it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.stats.requests.Add(1)
	p.serve(w, r, nil, false)
}

// serve is ServeHTTP, without counting the request, and with the member already
// chosen when m is not nil: the epoll engine hands a request whose member it does not
// serve itself (an https:// backend) over with its pick and count, so the split stays
// exact.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, m *member, pinned bool) {
	w.Header()["X-Proxy"] = p.xproxy
	if code, msg := p.refuse(r); code != 0 {
		p.stats.clientFaults.Add(1)
		writeLocal(w, code, msg)
		return
	}
	if m == nil {
		s := p.snap.Load()
		if s == nil {
			p.noBackend(w)
			return
		}
		if m, pinned = p.choose(s, (*stdRequest)(r)); m == nil {
			p.noBackend(w)
			return
		}
	}
	p.setSticky(w, r, m, pinned)

	rw := p.writers.Get().(*respWriter)
	rw.reset(w)
	var body *clientBody
	if r.Body != nil && r.Body != http.NoBody {
		body = p.watchBody(w, r)
	}
	replay := replayable(r)
	for {
		o := p.forward(rw, r, m, replay, body)
		v := p.end(m, rw.start, o, replay)
		if v.Retry {
			replay = false
			if next := p.retryTarget(m); next != nil {
				rw.resetAttempt()
				m = next
				continue
			}
			v.Answer = v.Status
		}
		if v.Answer != 0 {
			writeLocal(w, v.Answer, v.Message)
		} else if v.Fault != FaultNone {
			p.log.Debug("request failed", "fault", v.Fault.String(), "color", m.colour, "member", m.url(), "err", errString(o))
		}
		break
	}
	rw.w = nil
	p.writers.Put(rw)
}

// forward sends r to m once through its ReverseProxy and reports the Outcome. The
// attempt deadline covers connecting and waiting for the response head; once the head
// arrived (respWriter.WriteHeader) the response streams for as long as it takes.
func (p *Proxy) forward(rw *respWriter, r *http.Request, m *member, replay bool, body *clientBody) (o Outcome) {
	rp := m.rp
	if replay {
		rp = m.rpRetry
	}
	rw.start = p.begin(m)
	ctx, cancel := context.WithCancelCause(r.Context())
	rw.timer = time.AfterFunc(p.opts.AttemptTimeout, func() { cancel(errAttemptTimeout) })
	defer func() {
		rw.timer.Stop()
		cancel(nil)
		o = rw.outcome(r, ctx, body)
		if v := recover(); v != nil {
			// ReverseProxy aborts the handler when the response broke off mid-body:
			// record the attempt, then let net/http cut the connection.
			if o.Client == nil && o.Err == nil {
				o.Err = errResponseTruncated
			}
			p.end(m, rw.start, o, false)
			panic(v)
		}
	}()
	rp.ServeHTTP(rw, r.WithContext(ctx))
	return o
}

// errorHandler is called by ReverseProxy when the backend gave no usable response. It
// only notes the error: serve answers once judge has ruled.
func (p *Proxy) errorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	if rw, ok := w.(*respWriter); ok && rw.err == nil {
		rw.err = err
	}
}

func (p *Proxy) noBackend(w http.ResponseWriter) {
	p.stats.noBackend.Add(1)
	h := w.Header()
	h.Set("Retry-After", "1")
	writeLocal(w, http.StatusServiceUnavailable, msgNoBackend)
}

// writeLocal answers from the proxy itself (text/plain, not cached).
func writeLocal(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if code == http.StatusBadRequest || code == http.StatusRequestTimeout || code == http.StatusRequestEntityTooLarge {
		// The request body is unread or broken: the connection cannot carry another.
		h.Set("Connection", "close")
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// msgNoBackend is the body of the 503 both engines answer when nothing is healthy.
const msgNoBackend = "archway-proxy: no healthy backend\n"

// Handler serves the proxy with go-proxy-multiarch's /healthz (liveness) and /readyz
// (readiness: ready and at least one healthy backend) answered locally.
func (p *Proxy) Handler(ready *server.Readiness) http.Handler {
	readyz := ready.Readyz()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header()["X-Proxy"] = p.xproxy
			server.Healthz(w, r)
		case "/readyz":
			w.Header()["X-Proxy"] = p.xproxy
			readyz(w, r)
		default:
			p.ServeHTTP(w, r)
		}
	})
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
	if err != nil {
		rw.werr = true
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (streaming, upgrades).
func (rw *respWriter) Unwrap() http.ResponseWriter { return rw.w }

// outcome is what the attempt came to, for judge. ctx is the attempt's context (its
// cause says whether the deadline ended it), body the client's watched body, if any.
func (rw *respWriter) outcome(r *http.Request, ctx context.Context, body *clientBody) Outcome {
	o := Outcome{Status: rw.status, Sent: rw.sent}
	switch {
	case body != nil && body.err != nil:
		o.Client = body.err
	case r.Context().Err() != nil || rw.werr:
		o.Client = errClientGone
	case errors.Is(rw.err, errUpstream502):
		o.Status = http.StatusBadGateway
	case rw.err != nil && errors.Is(context.Cause(ctx), errAttemptTimeout):
		o.Err = errAttemptTimeout
	case rw.err != nil:
		o.Err = rw.err
	}
	return o
}

func errString(o Outcome) string {
	switch {
	case o.Client != nil:
		return o.Client.Error()
	case o.Err != nil:
		return o.Err.Error()
	}
	return "status " + strconv.Itoa(o.Status)
}

// Run runs the active health checks and DNS refresh until ctx ends.
func (p *Proxy) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if p.opts.HealthInterval > 0 {
		wg.Go(func() { p.healthLoop(ctx) })
	}
	wg.Go(func() { p.dnsLoop(ctx) })
	wg.Wait()
	return nil
}
