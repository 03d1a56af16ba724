// Package serve runs archway-proxy: a core (package proxy) behind the engine the
// configuration names, with its provider, health checks and listeners. It is the one
// place that knows every engine; the core knows none.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/epoll"
	"github.com/archwayhq/archway/proxy/nethttp"
	"github.com/archwayhq/archway/proxy/tlsterm"
)

// Config wires a Proxy to its engine, listeners and provider for Serve.
type Config struct {
	// Engine is proxy.EngineEpoll or proxy.EngineNetHTTP ("" means proxy.DefaultEngine);
	// Loops the epoll engine's event loops (0: GOMAXPROCS).
	Engine string
	Loops  int
	// Listener is the proxy listener; AdminListener the admin API's (nil: no admin API).
	Listener, AdminListener net.Listener
	// TLS, when set, makes Listener serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) through
	// the nethttp engine: the event loops read plain sockets only.
	TLS *tls.Config
	// RedirectListener, when set, answers plain HTTP with a 308 to https on
	// RedirectTo (tlsterm.RedirectHandler).
	RedirectListener net.Listener
	RedirectTo       int
	// Provider supplies the backends.
	Provider proxy.Provider
	// Ready is the /readyz state (a fresh one when nil); Serve sets Check and flips it.
	Ready *server.Readiness
	// Drain and ShutdownTimeout are handed to internal/server (see server.Config).
	Drain, ShutdownTimeout time.Duration
}

// Serve runs everything until ctx ends: the provider, health checks and DNS refresh,
// the proxy and admin listeners. On cancellation (SIGTERM in archway-proxy) /readyz
// fails at once, both listeners keep serving for Drain, then shut down within
// ShutdownTimeout; the provider and health checks run on until the proxy listener
// has shut down. A provider that fails (e.g. a bad initial configuration) stops
// everything and its error is returned.
func Serve(ctx context.Context, p *proxy.Proxy, sc Config) error {
	ready := sc.Ready
	if ready == nil {
		ready = &server.Readiness{}
	}
	ready.Check = p.Ready
	// The provider and health checks outlive ctx: they stop once the proxy server
	// stopped (after its drain, whether ctx ended or something failed), so that
	// draining requests are still routed on fresh membership and health information.
	provCtx, stopProv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProv()
	g, srvCtx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := sc.Provider.Run(provCtx, p.Apply)
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("provider: %w", err)
		}
		return nil
	})
	g.Go(func() error { _ = p.Run(provCtx); return nil })
	ready.Set(true)
	g.Go(func() error {
		defer stopProv()
		ln, cfg := proxyServer(p, sc, ready)
		return server.Serve(srvCtx, ln, cfg)
	})
	if sc.RedirectListener != nil {
		g.Go(func() error {
			return server.Serve(srvCtx, sc.RedirectListener, server.Config{
				Name: "redirect", Handler: tlsterm.RedirectHandler(sc.RedirectTo),
				Drain: sc.Drain, ShutdownTimeout: sc.ShutdownTimeout, Logger: p.Logger(),
			})
		})
	}
	if sc.AdminListener != nil {
		g.Go(func() error {
			return server.Serve(srvCtx, sc.AdminListener, server.Config{
				Name: "admin", Handler: p.AdminHandler(),
				Drain: sc.Drain, ShutdownTimeout: sc.ShutdownTimeout, Logger: p.Logger(),
			})
		})
	}
	return g.Wait()
}

// engineOf is the engine sc asks for: proxy.DefaultEngine when none is named, and
// the nethttp engine under TLS (the event loops read plain sockets only).
func engineOf(sc Config) string {
	switch {
	case sc.TLS != nil:
		return proxy.EngineNetHTTP
	case sc.Engine == "":
		return proxy.DefaultEngine
	}
	return sc.Engine
}

// proxyServer is the proxy listener's server and what it accepts on: the nethttp
// engine's handler on the listener wrapped to count connections, or, for the epoll
// engine, the event loops in front of that handler (they hand it what they do not
// serve themselves) on the listener itself (they accept on its socket and count
// connections themselves).
func proxyServer(p *proxy.Proxy, sc Config, ready *server.Readiness) (net.Listener, server.Config) {
	nh := nethttp.New(p)
	cfg := server.Config{
		Name: "proxy", Handler: nh.Front(ready), Ready: ready, TLS: sc.TLS,
		Drain: sc.Drain, ShutdownTimeout: sc.ShutdownTimeout, Logger: p.Logger(),
	}
	if engineOf(sc) != proxy.EngineEpoll {
		return p.TrackListener(sc.Listener), cfg
	}
	cfg.Engine = epoll.New(p, nh, ready, sc.Loops)
	return sc.Listener, cfg
}
