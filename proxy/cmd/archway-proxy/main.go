// Command archway-proxy is the weighted blue/green/canary reverse proxy. It parses its
// configuration (flags, env, optional env-file) and runs package proxy; see the README's
// "archway-proxy configuration" section.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/archwayhq/archway/internal/cli"
	"github.com/archwayhq/archway/internal/version"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/serve"
	"github.com/archwayhq/archway/proxy/tlsterm"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// providerEnv is what a provider constructor may use.
type providerEnv struct {
	cfg    *proxy.Config
	reload <-chan struct{} // SIGHUP
	load   func() ([]proxy.BackendSpec, error)
	log    *slog.Logger
	// rollout shows the release in progress on /status and /ui, for a provider that
	// reads it from its source ((*proxy.Proxy).SetRollout).
	rollout func(*proxy.Rollout)
}

// providers is the single place where backend providers are wired: -provider NAME
// (env PROVIDER) picks one. The Swarm provider joins with one line here, e.g.
//
//	"swarm": swarmProvider, // func in swarm.go, built on proxy/swarmprovider
var providers = map[string]func(providerEnv) (proxy.Provider, error){
	"static": func(e providerEnv) (proxy.Provider, error) {
		return &proxy.StaticProvider{Load: e.load, Reload: e.reload, Logger: e.log}, nil
	},
}

// run is main without os.Exit: exit code 2 for bad configuration, 1 for runtime failure.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "relay": // the filtering Docker socket relay (relay.go)
			return runRelay(ctx, args[1:], environ, stdout, stderr)
		case "relay-check": // what this container can do through DOCKER_HOST (relaycheck.go)
			return runRelayCheck(ctx, environ, stdout, stderr)
		}
	}
	cfg, err := proxy.ParseConfig(args, environ)
	if errors.Is(err, proxy.ErrHelp) {
		proxy.Usage(stdout)
		return 0
	}
	if err != nil {
		exitLine(stderr, "%v", err)
		return 2
	}
	if cfg.ShowVersion {
		fmt.Fprintf(stdout, "archway-proxy %s (commit %s)\n", version.Version, version.Commit)
		return 0
	}
	newProvider, ok := providers[cfg.Provider]
	if !ok {
		exitLine(stderr, "%s=%q: unknown provider; want one of %s", cfg.ProviderSetting, cfg.Provider, providerNames())
		return 2
	}
	log, level := newLogger(cfg, stderr)
	slog.SetDefault(log)
	var certs *tlsterm.Store
	if cfg.TLSCert != "" {
		certs, err = tlsterm.New(tlsterm.Options{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
			CertSetting: cfg.TLSCertSetting, KeySetting: cfg.TLSKeySetting, Logger: log})
		if err != nil {
			exitLine(stderr, "%v", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := proxy.OptionsFrom(cfg)
	opts.Logger = log
	p := proxy.New(opts)
	access := &accessLogSwitch{p: p, dst: stdout, format: cfg.LogFormat}
	defer access.close()
	access.turn(cfg.AccessLog)
	rr := &reloader{start: cfg, args: args, level: level, access: access, log: log}
	reload := watchSIGHUP(ctx, cfg, certs, rr, log)
	var tlsConfig *tls.Config
	if certs != nil {
		p.SetCertificates(certs)
		tlsConfig = tlsterm.ServerConfig(certs)
		go certs.Watch(ctx, cfg.TLSReload)
	}
	prov, err := newProvider(providerEnv{cfg: cfg, reload: reload, load: rr.backendsLoader(), log: log, rollout: p.SetRollout})
	if err != nil {
		exitLine(stderr, "%s=%q: %v", cfg.ProviderSetting, cfg.Provider, err)
		return 2
	}
	logConfigNotes(cfg, log)

	ls, err := listen(cfg)
	if err != nil {
		exitLine(stderr, "%v", err)
		return 1
	}
	log.Info("archway-proxy starting", startAttrs(cfg, ls, certs)...)
	err = serve.Serve(ctx, p, serve.Config{
		Engine: cfg.Engine, Loops: cfg.Loops,
		Listener: ls.main, AdminListener: ls.admin, Provider: prov,
		TLS: tlsConfig, RedirectListener: ls.redirect, RedirectTo: cfg.RedirectTo,
		Drain: cfg.Drain, ShutdownTimeout: cfg.ShutdownTO,
	})
	if err != nil {
		exitLine(stderr, "%v", err)
		return 1
	}
	return 0
}

// logConfigNotes logs what the configuration found but will not use, and where the
// colours came from: none of it stops the start, all of it is a likely mistake.
func logConfigNotes(cfg *proxy.Config, log *slog.Logger) {
	if len(cfg.Discovered) > 0 {
		log.Info("colours from the environment", "vars", strings.Join(cfg.Discovered, ","))
	}
	if len(cfg.FileUnused) > 0 {
		log.Warn("CONFIG keys that are no setting, colour or weight are ignored", "file", cfg.File, "keys", strings.Join(cfg.FileUnused, ","))
	}
	if len(cfg.FileDuplicates) > 0 {
		log.Warn("CONFIG keys set more than once: the last wins", "file", cfg.File, "keys", strings.Join(cfg.FileDuplicates, ", "))
	}
	if len(cfg.Orphans) > 0 {
		log.Warn("weights without a colour URL are ignored", "vars", strings.Join(cfg.Orphans, ","))
	}
}

// exitLine prints the one line archway-proxy exits with, cut to cli.MaxErrorLine.
func exitLine(stderr io.Writer, format string, a ...any) {
	commandExitLine(stderr, "archway-proxy", format, a...)
}

// commandExitLine is exitLine for a sub-command: "<command>: <message>", cut to
// cli.MaxErrorLine (a hostile DOCKER_HOST or daemon reply must not flood the log).
func commandExitLine(stderr io.Writer, command, format string, a ...any) {
	fmt.Fprintln(stderr, cli.Shorten(command+": "+fmt.Sprintf(format, a...)))
}

// newLogger is the process's logger in cfg's format, at cfg's level; the level is a
// variable so that SIGHUP can change it.
func newLogger(cfg *proxy.Config, stderr io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.LogLevel))
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	return slog.New(h), level
}

// watchSIGHUP acts on SIGHUP until ctx ends: it re-reads the certificate (when there
// is one) and, for the static provider, signals on the returned channel that the
// configuration is to be read again (its Load calls rr). Other providers follow their
// own source for the backends: for them rr re-reads the rest here. Signals that arrive
// while one is pending are folded into it.
func watchSIGHUP(ctx context.Context, cfg *proxy.Config, certs *tlsterm.Store, rr *reloader, log *slog.Logger) <-chan struct{} {
	reload := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if certs != nil {
					// Reload logs its own failure and keeps the served pair.
					if certs.Reload() == nil {
						info := certs.Info()
						log.Info("SIGHUP: certificate re-read", "subject", info.Subject, "not_after", info.NotAfter)
					}
				}
				if cfg.Provider != proxy.DefaultProvider {
					if _, err := rr.reread(); err != nil {
						log.Error("reload failed; keeping the running configuration", "err", err.Error())
						continue
					}
					log.Info("SIGHUP: configuration re-read; the backends follow the provider", "provider", cfg.Provider)
					continue
				}
				log.Info("SIGHUP: re-reading configuration")
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return reload
}

// listeners are the proxy's sockets: the proxy's own, and the admin API's and the
// HTTP-to-HTTPS redirect's when configured (else nil).
type listeners struct {
	main, admin, redirect net.Listener
}

// listen opens cfg's listeners; on failure it closes those already open.
func listen(cfg *proxy.Config) (listeners, error) {
	var ls listeners
	var err error
	if ls.main, err = net.Listen("tcp", cfg.Addr); err != nil {
		return ls, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if cfg.AdminAddr != "" {
		if ls.admin, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			ls.main.Close()
			return ls, fmt.Errorf("admin listen %s: %w", cfg.AdminAddr, err)
		}
	}
	if cfg.RedirectAddr != "" {
		if ls.redirect, err = net.Listen("tcp", cfg.RedirectAddr); err != nil {
			ls.main.Close()
			if ls.admin != nil {
				ls.admin.Close()
			}
			return ls, fmt.Errorf("redirect listen %s: %w", cfg.RedirectAddr, err)
		}
	}
	return ls, nil
}

// startAttrs are the start log line's attributes: what runs, where, on which engine.
func startAttrs(cfg *proxy.Config, ls listeners, certs *tlsterm.Store) []any {
	engine := cfg.Engine
	if certs != nil {
		// The event loops read plain sockets: HTTPS is served by net/http.
		engine = proxy.EngineNetHTTP + " (TLS)"
	}
	attrs := []any{"version", version.Version, "commit", version.Commit,
		"addr", ls.main.Addr().String(), "admin", adminAttr(ls.admin), "provider", cfg.Provider,
		"engine", engine, "gomaxprocs", runtime.GOMAXPROCS(0), "access_log", cfg.AccessLog}
	if certs != nil {
		info := certs.Info()
		attrs = append(attrs, "tls_subject", info.Subject, "tls_not_after", info.NotAfter, "redirect", cfg.RedirectAddr)
	} else if cfg.Engine == proxy.EngineEpoll {
		loops := cfg.Loops
		if loops == 0 {
			loops = runtime.GOMAXPROCS(0)
		}
		attrs = append(attrs, "loops", loops)
	}
	return attrs
}

// adminAttr is where the admin API listens, as bound (ADMIN_ADDR :0 picks a port), or
// "off".
func adminAttr(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

func providerNames() string {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s)) // validated by ParseConfig
	return l
}
