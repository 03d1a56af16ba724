package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/archwayhq/archway/internal/server"
)

// Run listens on cfg.Addr and serves until ctx is cancelled (SIGTERM in main), then
// fails /readyz, keeps serving for cfg.Drain and shuts down within cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("app: listen on %q: %w", cfg.Addr, err)
	}
	return Serve(ctx, ln, cfg, log)
}

// Serve is Run on an existing listener (tests listen on port 0).
func Serve(ctx context.Context, ln net.Listener, cfg Config, log *slog.Logger) error {
	host, err := os.Hostname()
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("app: hostname: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	p := DetectPlatform()
	log.Info("archway-app", "platform", p.String(), "machine", p.Machine, "execution", string(p.Exec.Mode), "v2", cfg.V2)
	var ready server.Readiness
	// The listener exists, so requests queue in the kernel until Serve accepts them:
	// ready from here on.
	ready.Set(true)
	h := NewHandler(Options{V2: cfg.V2, Hostname: host, Platform: p, Ready: &ready})
	return server.Serve(ctx, ln, server.Config{
		Name: "app", Handler: h, Ready: &ready,
		Drain: cfg.Drain, ShutdownTimeout: cfg.ShutdownTimeout, Logger: log,
	})
}
