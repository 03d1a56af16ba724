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
	"sync"
	"time"

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
// ShutdownTimeout. A provider that fails (e.g. a bad initial configuration) stops
// everything and its error is returned.
func Serve(ctx context.Context, p *proxy.Proxy, sc Config) error {
	ready := sc.Ready
	if ready == nil {
		ready = &server.Readiness{}
	}
	ready.Check = p.Ready
	engine := sc.Engine
	if engine == "" {
		engine = proxy.DefaultEngine
	}
	if sc.TLS != nil {
		engine = proxy.EngineNetHTTP
	}
	nh := nethttp.New(p)
	log := p.Logger()

	provCtx, cancelProv := context.WithCancel(ctx)
	defer cancelProv()
	srvCtx, cancelSrv := context.WithCancel(ctx)
	defer cancelSrv()

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		if err == nil {
			return
		}
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancelSrv()
		cancelProv()
	}
	wg.Go(func() {
		err := sc.Provider.Run(provCtx, p.Apply)
		if err != nil && !errors.Is(err, context.Canceled) {
			fail(fmt.Errorf("provider: %w", err))
		}
	})
	wg.Go(func() { _ = p.Run(provCtx) })
	ready.Set(true)
	wg.Go(func() {
		cfg := server.Config{
			Name: "proxy", Handler: nh.Front(ready), Ready: ready, TLS: sc.TLS,
			Drain: sc.Drain, ShutdownTimeout: sc.ShutdownTimeout, Logger: log,
		}
		ln := p.TrackListener(sc.Listener)
		if engine == proxy.EngineEpoll {
			// It accepts on the listener's socket and counts connections itself.
			cfg.Engine, ln = epoll.New(p, nh, ready, sc.Loops), sc.Listener
		}
		fail(server.Serve(srvCtx, ln, cfg))
		// Health checks and the provider stop only once the proxy stopped serving, so
		// that draining requests are still routed on fresh health information.
		cancelProv()
	})
	if sc.RedirectListener != nil {
		wg.Go(func() {
			fail(server.Serve(srvCtx, sc.RedirectListener, server.Config{
				Name: "redirect", Handler: tlsterm.RedirectHandler(sc.RedirectTo),
				Drain: sc.Drain, ShutdownTimeout: sc.ShutdownTimeout, Logger: log,
			}))
		})
	}
	if sc.AdminListener != nil {
		wg.Go(func() {
			fail(server.Serve(srvCtx, sc.AdminListener, server.Config{
				Name: "admin", Handler: p.AdminHandler(),
				Drain: sc.Drain, ShutdownTimeout: sc.ShutdownTimeout, Logger: log,
			}))
		})
	}
	wg.Wait()
	return firstErr
}
