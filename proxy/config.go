package proxy

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/internal/smallfile"
)

// Defaults of archway-proxy settings; the README's configuration table mirrors them.
const (
	DefaultPort            = 8989
	DefaultAdminAddr       = "127.0.0.1:8990"
	DefaultProvider        = "static"
	DefaultHealthPath      = "/healthz"
	DefaultHealthInterval  = 5 * time.Second
	DefaultHealthTimeout   = 2 * time.Second
	DefaultMaxFails        = 3
	DefaultFailTimeout     = 10 * time.Second
	DefaultDNSRefresh      = 5 * time.Second
	DefaultAttemptTimeout  = 10 * time.Second
	DefaultBodyTimeout     = 60 * time.Second
	DefaultDrain           = 5 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultTLSReload       = 5 * time.Second
	// EngineNetHTTP serves with net/http and forwards with httputil.ReverseProxy over
	// NewTransport's tuned http.Transport: full HTTP semantics (upgrades, streaming).
	EngineNetHTTP = "nethttp"
	// engineFastHTTP is the retired fasthttp engine: naming it is an error that says
	// what replaced it.
	engineFastHTTP = "fasthttp"
	// EngineEpoll serves plain HTTP/1.1 requests to http:// members from epoll event
	// loops (epoll.go) and hands every other request to the nethttp engine: nginx's
	// CPU per request. Linux only; the default there.
	EngineEpoll = "epoll"
	// MaxLoops bounds LOOPS.
	MaxLoops = 256
	// MaxWeight bounds a colour's weight: the SWRR cycle is precomputed and its length
	// is the sum of the (gcd-reduced) weights.
	MaxWeight = 10000
	// MaxColours bounds the number of colours for the same reason.
	MaxColours = 64
	// TargetColour names the single backend given by PROXY_TARGET_URL (go-proxy-multiarch).
	TargetColour = "DEFAULT"
)

// Config is the parsed archway-proxy configuration.
type Config struct {
	Addr      string // ":8989"
	AdminAddr string // "" when disabled ("off")
	// AdminAuth holds the admin tokens read from ADMIN_TOKEN_FILE / ADMIN_TOKEN and the
	// read-only pair; both empty only with a loopback (or disabled) admin listener.
	AdminAuth AdminAuth
	// TLS: the data listener serves HTTPS with this certificate and key (files, re-read
	// on SIGHUP and when they change, every TLSReload); "" serves plain HTTP.
	TLSCert, TLSKey string
	// TLSCertSetting and TLSKeySetting name where they came from, for errors.
	TLSCertSetting, TLSKeySetting string
	TLSReload                     time.Duration
	// RedirectAddr is a plain-HTTP listener that redirects to HTTPS (":80"); "" none.
	// RedirectTo is the HTTPS port its redirects name (default: the listen port).
	RedirectAddr string
	RedirectTo   int
	Provider     string
	// ProviderSetting names where Provider came from ("-provider" or "PROVIDER") for errors.
	ProviderSetting string
	File            string // -config / CONFIG, an env-file read at start and on SIGHUP

	// Backends are the statically configured colours, sorted by name.
	Backends []BackendSpec
	// Discovered lists the env/file variables taken as colours by the env scan, so that
	// the binary can log them: a colour is never picked up silently.
	Discovered []string
	// Orphans are NAME_WEIGHT variables without a NAME colour (logged, then ignored: the
	// sillyproxy flow "docker service update --env-rm GREEN" leaves GREEN_WEIGHT behind).
	Orphans []string
	// FileUnused are the CONFIG file's keys that are no setting, colour, weight or
	// ARCHWAY_* variable, FileDuplicates its keys set more than once (the last wins):
	// both logged at start, most likely typos.
	FileUnused, FileDuplicates []string

	HealthPath     string
	HealthInterval time.Duration // 0 disables active checks
	HealthTimeout  time.Duration
	MaxFails       int // 0 disables passive ejection
	FailTimeout    time.Duration
	DNSRefresh     time.Duration
	StickyCookie   string
	OverrideHeader string
	PreserveHost   bool
	AttemptTimeout time.Duration
	BodyTimeout    time.Duration
	MaxBody        int64 // bytes; 0: no limit
	StatsWindow    time.Duration
	Engine         string // EngineNetHTTP or EngineEpoll
	Loops          int    // event loops of EngineEpoll; 0 means GOMAXPROCS
	Drain          time.Duration
	ShutdownTO     time.Duration
	LogFormat      string
	LogLevel       string
	AccessLog      bool // one line per client request on stdout, in LogFormat
	ShowVersion    bool
	// Lookup reads a variable as the settings were read: the -config file over the
	// environment. Providers take their own settings through it (ARCHWAY_SWARM_*).
	Lookup func(name string) (string, bool)
	// effective is every setting's value in effect (flag, file, environment or
	// default), by its env name, for RestartOnlyChanges.
	effective map[string]string
}

// settings are every environment/config-file name archway-proxy reads as a setting;
// none of them is ever taken as a colour. Flags are the same names, lower-case with
// '-' for '_' (PROXY_TARGET_URL keeps go-proxy-multiarch's -proxy_target_url).
var settings = []string{
	"PORT", "ADMIN_ADDR", "PROVIDER", "CONFIG", "PROXY_TARGET_URL", "COLORS",
	"HEALTH_PATH", "HEALTH_INTERVAL", "HEALTH_TIMEOUT", "MAX_FAILS", "FAIL_TIMEOUT",
	"DNS_REFRESH", "ATTEMPT_TIMEOUT", "BODY_TIMEOUT", "MAX_BODY", "STICKY_COOKIE", "OVERRIDE_HEADER", "PRESERVE_HOST", "ENGINE", "LOOPS",
	"STATS_WINDOW",
	"DRAIN", "SHUTDOWN_TIMEOUT", "LOG_FORMAT", "LOG_LEVEL", "ACCESS_LOG",
	"ADMIN_TOKEN_FILE", "ADMIN_TOKEN", "ADMIN_READ_TOKEN_FILE", "ADMIN_READ_TOKEN",
	"TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_RELOAD_INTERVAL", "REDIRECT_PORT", "REDIRECT_TO_PORT",
}

// providerPrefix starts the names of the providers' own settings (ARCHWAY_SWARM_*):
// never colours, never unused keys of the -config file, read by the providers.
const providerPrefix = "ARCHWAY_"

// notColours are well-known variables of other tools whose value can be an http URL
// (a developer shell running the proxy): never colours.
var notColours = map[string]bool{
	"GOPROXY": true, "GOSUMDB": true, "GONOPROXY": true, "GONOSUMDB": true, "GOPRIVATE": true,
	"GOAUTH": true, "GOINSECURE": true, "GOTOOLCHAIN": true, "BROWSER": true, "EDITOR": true,
}

var (
	colourEnvName = regexp.MustCompile(`^[A-Z][A-Z0-9]*$`)
	colourName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)
)

// IsColourName reports whether name is a valid colour name (ColourRule), for the
// providers that check names before they hand a backend set over.
func IsColourName(name string) bool { return colourName.MatchString(name) }

// ColourRule is colourName in an error's words, the one wording of the rule: every
// place that refuses a colour name (configuration, admin API, providers) says it so.
const ColourRule = "must match [A-Za-z][A-Za-z0-9_-]* and be at most 63 characters"

// ErrHelp is returned by ParseConfig for -h/-help; the caller prints Usage and exits 0.
var ErrHelp = flag.ErrHelp

// multiFlag collects a repeatable NAME=VALUE flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// flagSet declares every flag; Usage output and ParseConfig share it.
func flagSet(backends, weights *multiFlag) (*flag.FlagSet, map[string]*string, map[string]*bool) {
	fs := flag.NewFlagSet("archway-proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	str := map[string]*string{}
	for _, s := range []struct{ name, def, usage string }{
		{"port", strconv.Itoa(DefaultPort), "listen port (env PORT)"},
		{"admin-addr", DefaultAdminAddr, `admin API listen address, "off" disables (env ADMIN_ADDR)`},
		{"admin-token-file", "", "file holding the admin API's bearer token, e.g. a Docker secret (env ADMIN_TOKEN_FILE)"},
		{"admin-token", "", "the admin API's bearer token itself, for development (env ADMIN_TOKEN)"},
		{"admin-read-token-file", "", "file holding a read-only token: GET /status, /backends, /metrics (env ADMIN_READ_TOKEN_FILE)"},
		{"admin-read-token", "", "the read-only token itself (env ADMIN_READ_TOKEN)"},
		{"tls-cert-file", "", "PEM certificate (chain) for HTTPS on the listen port; with -tls-key-file (env TLS_CERT_FILE)"},
		{"tls-key-file", "", "PEM private key of -tls-cert-file (env TLS_KEY_FILE)"},
		{"tls-reload-interval", DefaultTLSReload.String(), "how often the certificate files are checked for a change, 0 disables; SIGHUP re-reads at once (env TLS_RELOAD_INTERVAL)"},
		{"redirect-port", "", "plain-HTTP port redirecting to HTTPS (308), with -tls-cert-file; empty: none (env REDIRECT_PORT)"},
		{"redirect-to-port", "", "the HTTPS port redirects name, when clients reach it under another number than -port (a published port); default -port (env REDIRECT_TO_PORT)"},
		{"provider", DefaultProvider, "backend provider: static (env PROVIDER)"},
		{"config", "", "env-file (KEY=VALUE lines) read at start and on SIGHUP (env CONFIG)"},
		{"proxy_target_url", "", "single backend URL, colour DEFAULT (env PROXY_TARGET_URL)"},
		{"colors", "", "comma list of colour names; disables the env scan (env COLORS)"},
		{"health-path", DefaultHealthPath, "active health check path (env HEALTH_PATH)"},
		{"health-interval", DefaultHealthInterval.String(), "active health check interval, 0 disables (env HEALTH_INTERVAL)"},
		{"health-timeout", DefaultHealthTimeout.String(), "active health check timeout (env HEALTH_TIMEOUT)"},
		{"max-fails", strconv.Itoa(DefaultMaxFails), "consecutive failures that eject a member, 0 disables (env MAX_FAILS)"},
		{"fail-timeout", DefaultFailTimeout.String(), "how long an ejected member stays out (env FAIL_TIMEOUT)"},
		{"dns-refresh", DefaultDNSRefresh.String(), "re-resolve interval of dns+/tasks. backends (env DNS_REFRESH)"},
		{"attempt-timeout", DefaultAttemptTimeout.String(), "deadline to connect to a member and get its response head; an idempotent request then goes to another member (env ATTEMPT_TIMEOUT)"},
		{"body-timeout", DefaultBodyTimeout.String(), "longest wait for the next bytes of a request body; then 408 (env BODY_TIMEOUT)"},
		{"max-body", "0", "largest request body forwarded, bytes or with a K/M/G suffix (KiB/MiB/GiB); larger gets 413; 0 no limit (env MAX_BODY)"},
		{"sticky-cookie", "", "cookie name pinning a client to its colour; empty disables (env STICKY_COOKIE)"},
		{"override-header", "", "request header selecting a colour, e.g. X-Archway-Color; empty disables (env OVERRIDE_HEADER)"},
		{"stats-window", "60s", "span of the recent statistics per colour and platform in /status, /metrics and /ui, 10s-1h (env STATS_WINDOW)"},
		{"engine", DefaultEngine, "HTTP engine: nethttp (net/http + httputil.ReverseProxy) or epoll (event loops, least CPU; Linux) (env ENGINE)"},
		{"loops", "0", "event loops of -engine epoll; 0 means GOMAXPROCS (env LOOPS)"},
		{"drain", DefaultDrain.String(), "keep serving this long after SIGTERM with /readyz failing (env DRAIN)"},
		{"shutdown-timeout", DefaultShutdownTimeout.String(), "deadline for in-flight requests after the drain (env SHUTDOWN_TIMEOUT)"},
		{"log-format", "text", "text or json (env LOG_FORMAT)"},
		{"log-level", "info", "debug, info, warn or error (env LOG_LEVEL)"},
	} {
		str[s.name] = fs.String(s.name, s.def, s.usage)
	}
	bools := map[string]*bool{
		"preserve-host": fs.Bool("preserve-host", false, "send the client's Host header to backends (env PRESERVE_HOST)"),
		"access-log":    fs.Bool("access-log", false, "log one line per client request on stdout, in -log-format (env ACCESS_LOG)"),
		"version":       fs.Bool("version", false, "print version and commit and exit"),
	}
	fs.Var(backends, "backend", "NAME=URL[,URL…], repeatable (env NAME=URL)")
	fs.Var(weights, "weight", "NAME=N, repeatable (env NAME_WEIGHT, default 1)")
	return fs, str, bools
}

// Usage writes the flag reference to w.
func Usage(w io.Writer) {
	var b, wt multiFlag
	fs, _, _ := flagSet(&b, &wt)
	fs.SetOutput(w)
	fmt.Fprintln(w, "usage: archway-proxy [flags]   (every flag also reads an env var; the flag wins)")
	fs.PrintDefaults()
}

// ParseConfig reads archway-proxy's configuration from args (without the program name)
// and environ (os.Environ form). Precedence: flag, then the -config file, then the
// environment, then the default. Every error is one line naming the setting and value.
func ParseConfig(args, environ []string) (*Config, error) {
	var backendFlags, weightFlags multiFlag
	fs, str, bools := flagSet(&backendFlags, &weightFlags)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q; settings are flags or env vars", fs.Arg(0))
	}
	if *bools["version"] {
		return &Config{ShowVersion: true}, nil
	}
	s := &rawSettings{set: map[string]bool{}, vars: map[string]string{}, str: str, bools: bools}
	fs.Visit(func(f *flag.Flag) { s.set[f.Name] = true })
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			s.vars[k] = v
		}
	}
	c := &Config{}
	if err := c.readFile(s); err != nil {
		return nil, err
	}
	c.Lookup = func(name string) (string, bool) { v, ok := s.vars[name]; return v, ok }
	addr, err := server.ResolvePort(*str["port"], s.set["port"], s.vars["PORT"], DefaultPort)
	if err != nil {
		return nil, err
	}
	c.Addr = addr
	steps := []func(*rawSettings) error{
		c.parseAdmin,
		c.parseTLS,
		c.parseHealth,
		c.parseDurations,
		c.parseLimits,
		c.parseRouting,
		c.parseEngine,
		c.parseLogging,
		func(s *rawSettings) error { return c.parseBackends(s, backendFlags, weightFlags) },
	}
	for _, parse := range steps {
		if err := parse(s); err != nil {
			return nil, err
		}
	}
	c.effective = effectiveSettings(s, c)
	return c, nil
}

// rawSettings are the raw values ParseConfig reads from: the flags (str and bools, set
// for those given) and the environment with the -config file over it (vars).
type rawSettings struct {
	set      map[string]bool
	vars     map[string]string
	str      map[string]*string
	bools    map[string]*bool
	fileKeys []string // the -config file's keys, sorted
}

// lookup returns the winning raw value of a setting and how to name it in errors:
// the flag if given, else the variable if set, else the flag's default; given says
// whether it was set at all.
func (s *rawSettings) lookup(flagName, env string) (raw, name string, given bool) {
	if s.set[flagName] {
		return *s.str[flagName], "-" + flagName, true
	}
	if v, ok := s.vars[env]; ok {
		return v, env, true
	}
	return *s.str[flagName], "-" + flagName, false
}

// boolean is lookup for a boolean setting.
func (s *rawSettings) boolean(flagName, env string) (bool, error) {
	if s.set[flagName] {
		return *s.bools[flagName], nil
	}
	v, ok := s.vars[env]
	if !ok {
		return *s.bools[flagName], nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", env, v)
	}
	return b, nil
}

// readFile merges the -config env-file, when there is one, over the environment.
func (c *Config) readFile(s *rawSettings) error {
	raw, name, given := s.lookup("config", "CONFIG")
	if !given || raw == "" {
		return nil
	}
	file, dups, err := readEnvFile(raw)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", name, raw, err)
	}
	c.File, c.FileDuplicates = raw, dups
	for k, v := range file {
		s.vars[k] = v
		s.fileKeys = append(s.fileKeys, k)
	}
	sort.Strings(s.fileKeys)
	return nil
}

// unusedFileKeys are the file's keys that name nothing archway-proxy reads: no
// setting, colour or NAME_WEIGHT (orphans have their own warning), and not ARCHWAY_*
// (the providers' settings).
func unusedFileKeys(fileKeys []string, colours map[string]colourSetting, known map[string]bool) []string {
	var out []string
	for _, k := range fileKeys {
		n, isWeight := strings.CutSuffix(k, "_WEIGHT")
		_, isColour := colours[k]
		if isColour || known[k] || strings.HasPrefix(k, providerPrefix) || (isWeight && colourEnvName.MatchString(n)) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// parseAdmin reads the admin API's address and tokens; an admin API reachable from
// other hosts must have a token.
func (c *Config) parseAdmin(s *rawSettings) error {
	raw, name, _ := s.lookup("admin-addr", "ADMIN_ADDR")
	if raw == "" && name == "ADMIN_ADDR" {
		// An empty variable is unset, as with PORT: the default, not "off".
		raw, name = DefaultAdminAddr, "-admin-addr"
	}
	var err error
	if c.AdminAddr, err = parseAdminAddr(name, raw); err != nil {
		return err
	}
	var writeName, readName string
	if c.AdminAuth.Token, writeName, err = readToken(s, "admin-token", "ADMIN_TOKEN"); err != nil {
		return err
	}
	if c.AdminAuth.ReadToken, readName, err = readToken(s, "admin-read-token", "ADMIN_READ_TOKEN"); err != nil {
		return err
	}
	if c.AdminAuth.Token != "" && c.AdminAuth.ReadToken == c.AdminAuth.Token {
		return fmt.Errorf("%s: the same token as %s; the read-only token must differ, or it grants writes", readName, writeName)
	}
	if _, port, _ := net.SplitHostPort(c.AdminAddr); c.AdminAddr != "" && port != "0" && port == strings.TrimPrefix(c.Addr, ":") {
		return fmt.Errorf("%s=%q: the same port as the proxy's listener (PORT %s); give the admin API its own", name, c.AdminAddr, port)
	}
	if c.AdminAddr != "" && c.AdminAuth.Token == "" && !loopbackAddr(c.AdminAddr) {
		return fmt.Errorf("%s=%q: an admin API on a non-loopback address needs a token: set ADMIN_TOKEN_FILE (a Docker secret) or ADMIN_TOKEN, or listen on 127.0.0.1", name, c.AdminAddr)
	}
	return nil
}

// parseHealth reads the provider and the active health check's path.
func (c *Config) parseHealth(s *rawSettings) error {
	raw, setting, _ := s.lookup("provider", "PROVIDER")
	c.Provider, c.ProviderSetting = strings.TrimSpace(raw), setting
	raw, name, _ := s.lookup("health-path", "HEALTH_PATH")
	if !strings.HasPrefix(raw, "/") || strings.ContainsAny(raw, " ?#") {
		return fmt.Errorf("%s=%q: want an absolute path like /healthz", name, raw)
	}
	c.HealthPath = raw
	return nil
}

// parseDurations reads every duration setting: intervals, timeouts, drain.
func (c *Config) parseDurations(s *rawSettings) error {
	// periodic marks the intervals of work repeated for as long as the proxy runs:
	// below MinPeriod (1ns, say) they would keep a CPU busy or flood the backends or
	// the resolver.
	durations := []struct {
		flag, env        string
		dst              *time.Duration
		zeroOK, periodic bool
	}{
		{"health-interval", "HEALTH_INTERVAL", &c.HealthInterval, true, true},
		{"health-timeout", "HEALTH_TIMEOUT", &c.HealthTimeout, false, false},
		{"fail-timeout", "FAIL_TIMEOUT", &c.FailTimeout, false, false},
		{"dns-refresh", "DNS_REFRESH", &c.DNSRefresh, false, true},
		{"attempt-timeout", "ATTEMPT_TIMEOUT", &c.AttemptTimeout, false, false},
		{"body-timeout", "BODY_TIMEOUT", &c.BodyTimeout, false, false},
		{"drain", "DRAIN", &c.Drain, true, false},
		{"shutdown-timeout", "SHUTDOWN_TIMEOUT", &c.ShutdownTO, false, false},
		{"tls-reload-interval", "TLS_RELOAD_INTERVAL", &c.TLSReload, true, true},
	}
	for _, d := range durations {
		raw, name, _ := s.lookup(d.flag, d.env)
		v, err := time.ParseDuration(strings.TrimSpace(raw))
		switch {
		case err != nil:
			return fmt.Errorf("%s=%q: want a duration like 5s or 500ms", name, raw)
		case v < 0 || (v == 0 && !d.zeroOK):
			want := "> 0"
			if d.zeroOK {
				want = ">= 0"
			}
			return fmt.Errorf("%s=%q: duration must be %s", name, raw, want)
		case d.periodic && v > 0 && v < MinPeriod:
			want := ""
			if d.zeroOK {
				want = "0 (off) or "
			}
			return fmt.Errorf("%s=%q: want %sat least %v", name, raw, want, MinPeriod)
		}
		*d.dst = v
	}
	return nil
}

// MinPeriod is the shortest interval accepted for work the proxy repeats while it runs
// (health checks, DNS refresh, the certificate files' check, the Swarm provider's full
// read of every service, task and node).
const MinPeriod = 100 * time.Millisecond

// parseLimits reads passive ejection's failure count, the request body limit and the
// statistics window.
func (c *Config) parseLimits(s *rawSettings) error {
	raw, name, _ := s.lookup("max-fails", "MAX_FAILS")
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 0 || n > 1000 {
		return fmt.Errorf("%s=%q: want an integer 0-1000", name, raw)
	}
	c.MaxFails = n
	raw, name, _ = s.lookup("max-body", "MAX_BODY")
	if c.MaxBody, err = parseSize(raw); err != nil {
		return fmt.Errorf("%s=%q: %w", name, raw, err)
	}
	raw, name, _ = s.lookup("stats-window", "STATS_WINDOW")
	if c.StatsWindow, err = parseStatsWindow(raw); err != nil {
		return fmt.Errorf("%s=%q: %w", name, raw, err)
	}
	return nil
}

// parseRouting reads what steers a request besides the weights (the sticky cookie,
// the override header) and whether the client's Host is kept.
func (c *Config) parseRouting(s *rawSettings) error {
	raw, name, _ := s.lookup("sticky-cookie", "STICKY_COOKIE")
	if raw != "" && !validToken(raw) {
		return fmt.Errorf("%s=%q: want a cookie name (letters, digits, - and _)", name, raw)
	}
	c.StickyCookie = raw
	raw, name, _ = s.lookup("override-header", "OVERRIDE_HEADER")
	if raw != "" && !validToken(raw) {
		return fmt.Errorf("%s=%q: want a header name like X-Archway-Color", name, raw)
	}
	c.OverrideHeader = raw
	var err error
	c.PreserveHost, err = s.boolean("preserve-host", "PRESERVE_HOST")
	return err
}

// parseEngine reads the engine and its number of event loops.
func (c *Config) parseEngine(s *rawSettings) error {
	raw, name, _ := s.lookup("engine", "ENGINE")
	switch raw {
	case EngineNetHTTP:
		c.Engine = raw
	case EngineEpoll:
		if !epollSupported {
			return fmt.Errorf("%s=%q: needs Linux (epoll); use nethttp", name, raw)
		}
		c.Engine = raw
	case engineFastHTTP:
		return fmt.Errorf("%s=%q: the fasthttp engine was retired; use epoll (the event loops, faster) or nethttp", name, raw)
	default:
		return fmt.Errorf("%s=%q: want nethttp or epoll", name, raw)
	}
	raw, name, _ = s.lookup("loops", "LOOPS")
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 0 || n > MaxLoops {
		return fmt.Errorf("%s=%q: want an integer 0-%d", name, raw, MaxLoops)
	}
	if n != 0 && c.Engine != EngineEpoll {
		return fmt.Errorf("%s=%q: only ENGINE=epoll has event loops (ENGINE=%s)", name, raw, c.Engine)
	}
	c.Loops = n
	return nil
}

// parseLogging reads the log format and level, and whether requests are logged.
func (c *Config) parseLogging(s *rawSettings) error {
	raw, name, _ := s.lookup("log-format", "LOG_FORMAT")
	if raw != "text" && raw != "json" {
		return fmt.Errorf("%s=%q: want text or json", name, raw)
	}
	c.LogFormat = raw
	raw, name, _ = s.lookup("log-level", "LOG_LEVEL")
	switch strings.ToLower(raw) {
	case "debug", "info", "warn", "error":
		c.LogLevel = strings.ToLower(raw)
	default:
		return fmt.Errorf("%s=%q: want debug, info, warn or error", name, raw)
	}
	var err error
	c.AccessLog, err = s.boolean("access-log", "ACCESS_LOG")
	return err
}

// parseBackends builds the static colours. Env/file colours: with COLORS set, exactly
// those names; otherwise every variable whose name matches [A-Z][A-Z0-9]*, is no known
// setting, and whose value starts with http://, https://, dns+http:// or dns+https://;
// BLUE, GREEN and any NAME with a NAME_WEIGHT must then be valid URLs when set.
func (c *Config) parseBackends(s *rawSettings, backendFlags, weightFlags multiFlag) error {
	known := map[string]bool{}
	for _, name := range settings {
		known[name] = true
	}
	colours, err := envColours(s, backendFlags, known)
	if err != nil {
		return err
	}
	for k := range colours {
		c.Discovered = append(c.Discovered, k)
	}
	sort.Strings(c.Discovered)
	c.Orphans = orphanWeights(s.vars, colours, backendFlags, known)
	c.FileUnused = unusedFileKeys(s.fileKeys, colours, known)
	if raw, name, given := s.lookup("proxy_target_url", "PROXY_TARGET_URL"); given && raw != "" {
		colours[TargetColour] = colourSetting{name, raw}
	}
	fromFlag := map[string]string{}
	for _, b := range backendFlags {
		n, u, ok := strings.Cut(b, "=")
		if !ok || !colourName.MatchString(strings.TrimSpace(n)) {
			return fmt.Errorf("-backend=%q: want NAME=URL with NAME like blue or canary", b)
		}
		key := strings.ToUpper(strings.TrimSpace(n))
		if prev, dup := fromFlag[key]; dup {
			// Two flags for one colour: which was meant is not ours to guess.
			return fmt.Errorf("-backend=%q: colour %s is already given by -backend=%q; give its URLs once, comma-separated", b, key, prev)
		}
		fromFlag[key] = b
		colours[key] = colourSetting{"-backend " + strings.TrimSpace(n), u}
	}
	flagWeights, err := parseWeightFlags(weightFlags, colours)
	if err != nil {
		return err
	}
	if c.Backends, err = backendSpecs(colours, flagWeights, s.vars); err != nil {
		return err
	}
	if len(c.Backends) == 0 && c.Provider == DefaultProvider {
		return errors.New("backends: none configured; set BLUE=<url> (or any colour), PROXY_TARGET_URL=<url> or -backend NAME=URL")
	}
	return nil
}

// colourSetting is one colour's URL list as configured, and the setting that gave it
// (for errors).
type colourSetting struct {
	setting, raw string
}

// envColours are the colours the environment configures: those COLORS lists, or,
// without COLORS, every variable that looks like one (BLUE, GREEN, a name with a
// _WEIGHT, or a URL value) and is no setting.
func envColours(s *rawSettings, backendFlags multiFlag, known map[string]bool) (map[string]colourSetting, error) {
	colours := map[string]colourSetting{}
	raw, name, given := s.lookup("colors", "COLORS")
	if !given || strings.TrimSpace(raw) == "" {
		for k, v := range s.vars {
			if !colourEnvName.MatchString(k) || known[k] || notColours[k] {
				continue
			}
			_, hasWeight := s.vars[k+"_WEIGHT"]
			if k == "BLUE" || k == "GREEN" || hasWeight || looksLikeURL(v) {
				colours[k] = colourSetting{k, v}
			}
		}
		return colours, nil
	}
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		if !colourName.MatchString(n) {
			return nil, fmt.Errorf("%s=%q: colour %q %s", name, raw, n, ColourRule)
		}
		env := strings.ToUpper(n)
		v, ok := s.vars[env]
		if !ok {
			if hasFlagFor(backendFlags, env) {
				continue
			}
			return nil, fmt.Errorf("%s=%q: colour %s has no URL: set %s=<url>", name, raw, env, env)
		}
		colours[env] = colourSetting{env, v}
	}
	return colours, nil
}

// orphanWeights are the NAME_WEIGHT variables whose NAME is no configured colour
// (logged at start: they are ignored), sorted.
func orphanWeights(vars map[string]string, colours map[string]colourSetting, backendFlags multiFlag, known map[string]bool) []string {
	var out []string
	for k := range vars {
		if n, ok := strings.CutSuffix(k, "_WEIGHT"); ok && colourEnvName.MatchString(n) && !known[n] {
			if _, isColour := colours[n]; !isColour && !hasFlagFor(backendFlags, n) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// parseWeightFlags reads -weight NAME=N flags (raw weights by upper-case colour); each
// must name a configured colour.
func parseWeightFlags(weightFlags multiFlag, colours map[string]colourSetting) (map[string]string, error) {
	out := map[string]string{}
	for _, w := range weightFlags {
		n, v, ok := strings.Cut(w, "=")
		if !ok || !colourName.MatchString(strings.TrimSpace(n)) {
			return nil, fmt.Errorf("-weight=%q: want NAME=N with NAME like blue", w)
		}
		key := strings.ToUpper(strings.TrimSpace(n))
		if prev, dup := out[key]; dup {
			return nil, fmt.Errorf("-weight=%q: colour %s already has -weight %s; give one weight per colour", w, key, prev)
		}
		out[key] = v
	}
	for n := range out {
		if _, ok := colours[n]; !ok {
			return nil, fmt.Errorf("-weight=%q: unknown colour %s; give its URL with %s=<url> or -backend %s=<url>", n+"="+out[n], n, n, strings.ToLower(n))
		}
	}
	return out, nil
}

// backendSpecs turns the colours into backends sorted by name, each with its members
// and its weight (-weight, else NAME_WEIGHT, else 1); at least one weight must be > 0.
func backendSpecs(colours map[string]colourSetting, flagWeights, vars map[string]string) ([]BackendSpec, error) {
	names := make([]string, 0, len(colours))
	for n := range colours {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > MaxColours {
		return nil, fmt.Errorf("backends: %d colours configured; at most %d", len(names), MaxColours)
	}
	var specs []BackendSpec
	positive := false
	for _, n := range names {
		col := colours[n]
		members, err := parseMemberURLs(col.setting, col.raw)
		if err != nil {
			return nil, err
		}
		weight := 1
		if raw, ok := flagWeights[n]; ok {
			if weight, err = parseWeight("-weight "+strings.ToLower(n), raw); err != nil {
				return nil, err
			}
		} else if raw, ok := vars[n+"_WEIGHT"]; ok {
			if weight, err = parseWeight(n+"_WEIGHT", raw); err != nil {
				return nil, err
			}
		}
		positive = positive || weight > 0
		specs = append(specs, BackendSpec{Name: n, Weight: weight, Members: members})
	}
	if len(specs) > 0 && !positive {
		return nil, fmt.Errorf("backends: every weight is 0 (%s); at least one must be > 0", weightList(specs))
	}
	return specs, nil
}

func hasFlagFor(backendFlags multiFlag, name string) bool {
	for _, b := range backendFlags {
		if n, _, ok := strings.Cut(b, "="); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}

func weightList(specs []BackendSpec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = fmt.Sprintf("%s=%d", s.Name, s.Weight)
	}
	return strings.Join(parts, " ")
}

func looksLikeURL(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	for _, p := range []string{"http://", "https://", "dns+http://", "dns+https://"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// parseSize reads a byte count: digits with an optional K, M or G (binary) suffix.
func parseSize(raw string) (int64, error) {
	s := strings.TrimSpace(raw)
	shift := 0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		}
		if shift > 0 {
			s = s[:n-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || s == "" || s[0] == '+' || n > (1<<62)>>shift {
		return 0, errors.New("want a size in bytes like 1048576, 512K, 10M or 1G (0: no limit)")
	}
	return n << shift, nil
}

// parseStatsWindow reads STATS_WINDOW: a duration from MinStatsWindow to MaxStatsWindow.
// Shorter windows hold too few requests to judge a canary by; longer ones react to a
// bad release too late.
func parseStatsWindow(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil || d < MinStatsWindow || d > MaxStatsWindow {
		return 0, errors.New("want a duration from 10s to 1h, like 60s")
	}
	return d, nil
}

// parseWeight parses a colour weight: an integer 0..MaxWeight.
func parseWeight(setting, raw string) (int, error) {
	s := strings.TrimSpace(raw)
	n, err := strconv.Atoi(s)
	tooLarge := errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-")
	if (err != nil && !tooLarge) || n < 0 {
		return 0, fmt.Errorf("%s=%q: weight must be an integer >= 0", setting, raw)
	}
	if tooLarge || n > MaxWeight {
		return 0, fmt.Errorf("%s=%q: weight must be <= %d", setting, raw, MaxWeight)
	}
	return n, nil
}

// parseMemberURLs parses a comma-separated list of member base URLs.
func parseMemberURLs(setting, raw string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(raw, ",") {
		u, err := parseBackendURL(setting, raw, strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if dup, first := duplicateMember(out); dup != nil {
		return nil, fmt.Errorf("%s=%q: member %s listed twice (first as %s)", setting, raw, dup.Redacted(), first.Redacted())
	}
	return out, nil
}

// parseBackendURL validates one member URL: http, https, dns+http or dns+https, a host,
// a numeric port if any, no fragment. whole is the full setting value for the message.
func parseBackendURL(setting, whole, raw string) (*url.URL, error) {
	fail := func(why string) error { return fmt.Errorf("%s=%q: %s", setting, whole, why) }
	if raw == "" {
		return nil, fail("empty URL; want http://host:port")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fail("not a URL: " + err.Error())
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "dns+http", "dns+https":
		u.Scheme = strings.ToLower(u.Scheme)
	case "":
		return nil, fail("missing scheme; want http://host:port")
	default:
		return nil, fail(fmt.Sprintf("unsupported scheme %q; want http, https, dns+http or dns+https", u.Scheme))
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, fail("missing host; want " + u.Scheme + "://host:port")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fail(fmt.Sprintf("port %q out of range 1-65535", p))
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, fail("empty port; want host:port")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fail("fragment not allowed")
	}
	if u.User != nil {
		// Neither engine sends it (no Authorization is made from it): refuse it rather
		// than let a backend that needs it fail with every request.
		// The password is not repeated in the error.
		return nil, fmt.Errorf("%s=%q: user info (user:password@) is not sent to backends; remove it",
			setting, strings.Replace(whole, raw, u.Redacted(), 1))
	}
	return u, nil
}

func parseAdminAddr(setting, raw string) (string, error) {
	if raw == "off" {
		return "", nil
	}
	if strings.TrimSpace(raw) != raw {
		return "", fmt.Errorf("%s=%q: white space around the address; want host:port like 127.0.0.1:8990, or off", setting, raw)
	}
	_, port, err := net.SplitHostPort(raw)
	if err != nil {
		return "", fmt.Errorf("%s=%q: want host:port like 127.0.0.1:8990, or off", setting, raw)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%s=%q: port out of range 0-65535", setting, raw)
	}
	return raw, nil
}

// readToken reads one admin token from NAME_FILE or NAME (flags -name-file, -name):
// surrounding white space (a file's newline) is trimmed; a missing, unreadable or
// empty file, both forms at once, or a token shorter than MinTokenLen or holding
// white space or control characters is an error naming the setting. It returns the
// token and how the setting was named (for later errors), "" when none is set.
func readToken(s *rawSettings, flagName, env string) (tok, name string, err error) {
	fileRaw, fileName, fileGiven := s.lookup(flagName+"-file", env+"_FILE")
	valRaw, valName, valGiven := s.lookup(flagName, env)
	fileGiven = fileGiven && fileRaw != ""
	valGiven = valGiven && valRaw != ""
	switch {
	case fileGiven && valGiven:
		return "", "", fmt.Errorf("%s and %s are both set; set one", fileName, valName)
	case fileGiven:
		b, rerr := smallfile.Read(fileRaw, MaxTokenFile)
		if rerr != nil {
			return "", "", fmt.Errorf("%s=%q: %v", fileName, fileRaw, rerr)
		}
		tok, name = strings.TrimSpace(string(b)), fmt.Sprintf("%s=%q", fileName, fileRaw)
		if tok == "" {
			return "", "", fmt.Errorf("%s: the file is empty; want a token of at least %d characters", name, MinTokenLen)
		}
	case valGiven:
		// The value itself is never repeated in an error.
		tok, name = strings.TrimSpace(valRaw), valName
	default:
		return "", "", nil
	}
	if len(tok) < MinTokenLen {
		return "", "", fmt.Errorf("%s: the token has %d characters; want at least %d (e.g. openssl rand -hex 32)", name, len(tok), MinTokenLen)
	}
	for _, r := range tok {
		if r <= ' ' || r == 0x7f {
			return "", "", fmt.Errorf("%s: the token holds white space or control characters; want one line of printable characters", name)
		}
	}
	return tok, name, nil
}

// parseTLS reads the TLS settings. The files themselves are loaded by package
// tlsterm at start (one-line errors there); here only their presence is checked.
func (c *Config) parseTLS(s *rawSettings) error {
	c.TLSCert, c.TLSCertSetting, _ = s.lookup("tls-cert-file", "TLS_CERT_FILE")
	c.TLSKey, c.TLSKeySetting, _ = s.lookup("tls-key-file", "TLS_KEY_FILE")
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return fmt.Errorf("%s=%q: needs TLS_KEY_FILE too", c.TLSCertSetting, c.TLSCert)
	case c.TLSKey != "" && c.TLSCert == "":
		return fmt.Errorf("%s=%q: needs TLS_CERT_FILE too", c.TLSKeySetting, c.TLSKey)
	}
	// redirectPort reads one of the redirect settings: 0 when unset; both need TLS.
	redirectPort := func(flagName, env string) (int, string, error) {
		raw, name, given := s.lookup(flagName, env)
		if !given || strings.TrimSpace(raw) == "" {
			return 0, "", nil
		}
		setting := fmt.Sprintf("%s=%q", name, raw)
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		switch {
		case err != nil || n < 1 || n > 65535:
			return 0, "", fmt.Errorf("%s: want a port number 1-65535", setting)
		case c.TLSCert == "":
			return 0, "", fmt.Errorf("%s: redirects to HTTPS, which needs TLS_CERT_FILE and TLS_KEY_FILE", setting)
		}
		return n, setting, nil
	}
	from, fromSetting, err := redirectPort("redirect-port", "REDIRECT_PORT")
	if err != nil {
		return err
	}
	to, toSetting, err := redirectPort("redirect-to-port", "REDIRECT_TO_PORT")
	switch {
	case err != nil:
		return err
	case from == 0 && to != 0:
		return fmt.Errorf("%s: names the port redirects go to, but REDIRECT_PORT (the listener that redirects) is not set", toSetting)
	case from == 0:
		return nil
	}
	c.RedirectAddr = ":" + strconv.Itoa(from)
	if c.RedirectAddr == c.Addr {
		return fmt.Errorf("%s: the same port as the HTTPS listener", fromSetting)
	}
	c.RedirectTo = to
	if to == 0 {
		// Addr is ":<port>" from ResolvePort.
		c.RedirectTo, _ = strconv.Atoi(strings.TrimPrefix(c.Addr, ":"))
	}
	return nil
}

func validToken(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped, an
// optional "export " prefix and matching surrounding quotes are removed.
func readEnvFile(path string) (vars map[string]string, dups []string, err error) {
	b, err := smallfile.Read(path, 1<<20)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read: %w", err)
	}
	out := map[string]string{}
	lineOf := map[string]int{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, nil, fmt.Errorf("line %d: want KEY=VALUE, got %q", i+1, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if first, dup := lineOf[k]; dup {
			dups = append(dups, fmt.Sprintf("%s (lines %d and %d)", k, first, i+1))
		} else {
			lineOf[k] = i + 1
		}
		out[k] = v
	}
	return out, dups, nil
}
