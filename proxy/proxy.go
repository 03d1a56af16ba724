package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/archwayhq/archway/proxy/accesslog"
	"github.com/archwayhq/archway/proxy/tlsterm"
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
	MaxBody int64
	// StatsWindow is the span of the "recent" statistics per colour and platform
	// (MinStatsWindow..MaxStatsWindow); default DefaultStatsWindow.
	StatsWindow time.Duration
	Hostname    string // X-Proxy value; default os.Hostname()
	// Transport carries health checks to members, and requests for engines that
	// forward through a RoundTripper (nethttp); default: NewTransport's tuned
	// http.Transport.
	Transport http.RoundTripper
	// AdminAuth guards the admin API (AdminHandler); the zero value has no token, for a
	// loopback admin listener.
	AdminAuth AdminAuth
	Logger    *slog.Logger
	// AccessLog, when set, receives one line per client request (accesslog.go); nil
	// leaves the access log off until SetAccessLog.
	AccessLog *accesslog.Log
}

// OptionsFrom maps a parsed Config onto Options.
func OptionsFrom(c *Config) Options {
	return Options{
		HealthPath: c.HealthPath, HealthInterval: c.HealthInterval, HealthTimeout: c.HealthTimeout,
		MaxFails: c.MaxFails, FailTimeout: c.FailTimeout, DNSRefresh: c.DNSRefresh,
		StickyCookie: c.StickyCookie, OverrideHeader: c.OverrideHeader, PreserveHost: c.PreserveHost,
		AttemptTimeout: c.AttemptTimeout, BodyTimeout: c.BodyTimeout, MaxBody: c.MaxBody,
		StatsWindow: c.StatsWindow, AdminAuth: c.AdminAuth,
	}
}

// Proxy is the core of the weighted reverse proxy: the routing snapshot, selection,
// members and their health, discovery, statistics and the forward spec. It serves no
// connection itself: an engine (proxy/epoll, proxy/nethttp) does, driving each request
// through Pick, Begin, End and RetryTarget; proxy/serve wires an engine to listeners.
// Create it with New, give it backends with Apply (usually through a Provider), and run
// its health and discovery loops with Run.
type Proxy struct {
	opts      Options
	log       *slog.Logger
	transport http.RoundTripper
	override  string // canonical override header, "" when disabled
	counters  atomic.Pointer[[]Counter]
	certs     atomic.Pointer[tlsterm.Store] // the data listener's certificate, nil: plain HTTP

	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // serialises writers: Apply, admin edits, health flips, DNS refresh
	members map[string]*Member
	dns     *dnsCache

	stats  globalStats
	groups *groupSet // per (colour, platform) statistics: groupstats.go
	// rollout is what the release tool reports (SetRollout); shown, never acted on.
	rollout atomic.Pointer[Rollout]
	// access is the access log while it is on (nil: off); accessSeen the last one that
	// was, whose drop count /metrics goes on showing (accesslog.go).
	access, accessSeen atomic.Pointer[accesslog.Log]
	start              time.Time
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
	if opts.StatsWindow <= 0 {
		opts.StatsWindow = DefaultStatsWindow
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	p := &Proxy{opts: opts, log: opts.Logger, members: map[string]*Member{}, start: time.Now()}
	p.groups = newGroupSet(opts.StatsWindow, p.start)
	p.SetAccessLog(opts.AccessLog)
	if p.log == nil {
		p.log = slog.Default()
	}
	p.transport = opts.Transport
	if p.transport == nil {
		p.transport = p.NewTransport()
	}
	if opts.OverrideHeader != "" {
		p.override = http.CanonicalHeaderKey(opts.OverrideHeader)
	}
	p.dns = newDNSCache(opts.Resolver, p.log)
	return p
}

// Options returns the proxy's options with their defaults filled in.
func (p *Proxy) Options() Options { return p.opts }

// Logger is the proxy's logger.
func (p *Proxy) Logger() *slog.Logger { return p.log }

// Transport is the RoundTripper to members (Options.Transport or NewTransport's).
func (p *Proxy) Transport() http.RoundTripper { return p.transport }

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

// newMember creates a member. Callers hold p.mu.
func (p *Proxy) newMember(key, colourHeader string, target *url.URL, origin string) *Member {
	m := &Member{key: key, colour: colourHeader, target: target, url: target.Redacted(), origin: origin, dialAddr: target.Host}
	if target.Port() == "" {
		port := "80"
		if target.Scheme == "https" {
			port = "443"
		}
		m.dialAddr = net.JoinHostPort(target.Hostname(), port)
	}
	m.up.Store(true) // optimistic: serve at once; the first active check follows immediately
	return m
}

// MsgNoBackend is the body of the 503 both engines answer when nothing is healthy.
const MsgNoBackend = "archway-proxy: no healthy backend\n"

// Run runs the active health checks, DNS refresh and the recent window's copies of
// the statistics until ctx ends.
func (p *Proxy) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { p.statsLoop(ctx) })
	if p.opts.HealthInterval > 0 {
		wg.Go(func() { p.healthLoop(ctx) })
	}
	wg.Go(func() { p.dnsLoop(ctx) })
	wg.Wait()
	return nil
}
