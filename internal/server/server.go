// Package server is the HTTP lifecycle shared by archway-proxy and archway-app:
// listen, report liveness and readiness, and on shutdown drain before closing so that
// a load balancer (Swarm, the proxy itself) stops sending traffic before connections go.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config describes one HTTP listener and how it winds down.
type Config struct {
	// Name labels log lines ("proxy", "admin", "app").
	Name string
	// Addr is the listen address, e.g. ":8989".
	Addr string
	// Handler serves requests (with net/http). Ignored when Engine is set.
	Handler http.Handler
	// TLS, when set, makes the net/http server built from Handler serve HTTPS (HTTP/1.1
	// and HTTP/2 by ALPN) with this configuration. Ignored when Engine is set.
	TLS *tls.Config
	// Engine is the HTTP server to run instead of a net/http one built from Handler,
	// e.g. archway-proxy's epoll engine; Serve gives it the same drain and shutdown.
	Engine Engine
	// Ready is flipped to not-ready as soon as shutdown begins; may be nil.
	Ready *Readiness
	// Drain is how long to keep serving after readiness fails, so that peers polling
	// /readyz notice before connections are refused.
	Drain time.Duration
	// ShutdownTimeout bounds http.Server.Shutdown once draining is over.
	ShutdownTimeout time.Duration
	// Logger receives lifecycle events; slog.Default() when nil.
	Logger *slog.Logger
}

// Engine is an HTTP server Serve can run: *http.Server has this shape. Serve must
// return nil or http.ErrServerClosed after Shutdown; Close is the last resort when
// Shutdown's deadline passes.
type Engine interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// Run listens on cfg.Addr and serves until ctx is cancelled, then drains and shuts
// down. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg Config) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %q: %w", cfg.Name, cfg.Addr, err)
	}
	return Serve(ctx, ln, cfg)
}

// Serve is Run on an existing listener (tests use port 0 and read the address back).
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	srv := cfg.Engine
	serve := func() error { return srv.Serve(ln) }
	if srv == nil {
		hs := &http.Server{
			Handler:           cfg.Handler,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       90 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			TLSConfig:         cfg.TLS,
		}
		srv = hs
		if cfg.TLS != nil {
			// A client that fails its handshake (a scanner, plain HTTP on the TLS
			// port) is its own problem: debug, not a warning per connection.
			hs.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
			// The certificate comes from TLS (GetCertificate); ServeTLS adds HTTP/2.
			serve = func() error { return hs.ServeTLS(ln, "", "") }
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	log.Info("listening", "server", cfg.Name, "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("%s: serve: %w", cfg.Name, err)
	case <-ctx.Done():
	}

	if cfg.Ready != nil {
		cfg.Ready.Set(false)
	}
	if cfg.Drain > 0 {
		log.Info("draining", "server", cfg.Name, "for", cfg.Drain.String())
		select {
		case <-time.After(cfg.Drain):
		case err := <-errc:
			return fmt.Errorf("%s: serve: %w", cfg.Name, err)
		}
	}
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("%s: shutdown: %w", cfg.Name, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: serve: %w", cfg.Name, err)
	}
	log.Info("stopped", "server", cfg.Name)
	return nil
}
