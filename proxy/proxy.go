package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
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
	Hostname       string        // X-Proxy value; default os.Hostname()
	// Engine is EngineNetHTTP (default), EngineFastHTTP or EngineEpoll: which HTTP
	// implementation Serve runs on the proxy listener and forwards with (fasthttp.go,
	// epoll.go).
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
		ResponseHeaderTimeout: 60 * time.Second,
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
	if err == nil && p.opts.Engine == EngineEpoll {
		err = epollTargets(norm)
	}
	if err != nil {
		p.stats.reloadsBad.Add(1)
		return err
	}
	p.snap.Store(p.buildLocked(norm))
	p.stats.reloadsOK.Add(1)
	p.log.Info("backends applied", "backends", weightList(norm))
	return nil
}

// epollTargets refuses https members for the epoll engine, whose loops speak plain
// HTTP/1.1 to backends (ParseConfig at start, Apply for admin and provider changes).
func epollTargets(specs []BackendSpec) error {
	for _, s := range specs {
		for _, u := range s.Members {
			if u.Scheme != "http" && u.Scheme != "dns+http" {
				return fmt.Errorf("backend %s: url %q: ENGINE=epoll forwards to http:// backends only; use ENGINE=nethttp or fasthttp", s.Name, u.Redacted())
			}
		}
	}
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
	if p.opts.Engine == EngineFastHTTP {
		m.fast = p.newHostClient(m)
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

// ServeHTTP proxies one request: choose a colour and member, forward, and retry once
// elsewhere when allowed (see retry.go).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.stats.requests.Add(1)
	w.Header()["X-Proxy"] = p.xproxy
	s := p.snap.Load()
	if s == nil {
		p.noBackend(w)
		return
	}
	m, pinned := p.choose(s, (*stdRequest)(r))
	if m == nil {
		p.noBackend(w)
		return
	}
	p.setSticky(w, r, m, pinned)

	rw := p.writers.Get().(*respWriter)
	rw.reset(w)
	retry := retryable(r)
	rw.allowRetry = retry
	p.serveMember(rw, r, m, retry)
	if rw.retry {
		next := s.pickOther(m)
		if next == nil {
			p.log.Debug("no other member to retry on", "color", m.colour, "member", m.url())
			writeBadGateway(rw.w, rw.err)
		} else {
			p.stats.retries.Add(1)
			rw.retry, rw.allowRetry, rw.status = false, false, 0
			p.serveMember(rw, r, next, false)
		}
	}
	rw.w = nil
	p.writers.Put(rw)
}

// serveMember forwards r to m once and records statistics and passive health.
func (p *Proxy) serveMember(rw *respWriter, r *http.Request, m *member, retryFlavour bool) {
	rp := m.rp
	if retryFlavour {
		rp = m.rpRetry
	}
	m.stats.inflight.Add(1)
	start := time.Now()
	rw.failed = false
	rp.ServeHTTP(rw, r)
	d := time.Since(start)
	m.stats.inflight.Add(-1)
	status := rw.status
	switch {
	case rw.retry:
		status = http.StatusBadGateway
	case status == 0 && rw.failed:
		status = 0
	case status == 0:
		status = http.StatusOK
	}
	m.stats.record(status, d)
	if rw.failed || status == http.StatusBadGateway {
		p.passiveFailure(m)
	} else if r.Context().Err() == nil {
		p.passiveSuccess(m)
	}
}

func (p *Proxy) noBackend(w http.ResponseWriter) {
	p.stats.noBackend.Add(1)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Retry-After", "1")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, msgNoBackend)
}

// errorHandler is called by ReverseProxy when the backend gave no usable response.
// Before anything was written it may turn the failure into a retry.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	rw, _ := w.(*respWriter)
	if r.Context().Err() != nil {
		// The client went away: not the backend's fault.
		if rw != nil {
			rw.status = 499
		}
		return
	}
	if rw != nil {
		rw.failed = true
		if rw.allowRetry && isRetryableErr(err) {
			rw.retry, rw.err = true, err
			return
		}
	}
	p.log.Debug("backend error", "host", r.URL.Host, "err", err.Error())
	writeBadGateway(w, err)
}

func writeBadGateway(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	status, msg := gatewayAnswer(err)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// msgNoBackend is the body of the 503 both engines answer when nothing is healthy.
const msgNoBackend = "archway-proxy: no healthy backend\n"

// gatewayAnswer is the status and body for a backend that gave no usable response,
// for both engines: 504 when it timed out (net.Error or fasthttp.ErrTimeout), else 502.
func gatewayAnswer(err error) (int, string) {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return http.StatusGatewayTimeout, "archway-proxy: backend timed out\n"
	}
	return http.StatusBadGateway, "archway-proxy: backend unavailable\n"
}

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

// respWriter observes the status written through it and carries the retry signal
// from errorHandler back to ServeHTTP. It is pooled: one per request in flight.
type respWriter struct {
	w          http.ResponseWriter
	status     int
	allowRetry bool
	retry      bool
	failed     bool
	err        error
}

func (rw *respWriter) reset(w http.ResponseWriter) { *rw = respWriter{w: w} }

func (rw *respWriter) Header() http.Header { return rw.w.Header() }

func (rw *respWriter) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.w.WriteHeader(code)
}

func (rw *respWriter) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.w.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and Hijack (streaming, upgrades).
func (rw *respWriter) Unwrap() http.ResponseWriter { return rw.w }

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
