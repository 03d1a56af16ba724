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
	log.Info("archway-app", startAttrs(p, cfg)...)
	var ready server.Readiness
	// The listener exists, so requests queue in the kernel until Serve accepts them:
	// ready from here on.
	ready.Set(true)
	h := NewHandler(Options{V2: cfg.V2, Hostname: host, Platform: p, Ready: &ready, Faults: cfg.Faults, Release: cfg.Release})
	return server.Serve(ctx, ln, server.Config{
		Name: "app", Handler: h, Ready: &ready,
		Drain: cfg.Drain, ShutdownTimeout: cfg.ShutdownTimeout, Logger: log,
	})
}

// startAttrs are the attributes of the start line: platform, release and the faults in
// force ("none" when none, so a demo's log always says). Faults that the platform limits
// switch off here are listed too, so a FAIL_PLATFORM that matches no task is visible.
func startAttrs(p Platform, cfg Config) []any {
	platform := p.String()
	faults := cfg.Faults.On(platform).String()
	if faults == "" {
		faults = "none"
	}
	attrs := []any{"platform", platform, "machine", p.Machine, "execution", string(p.Exec.Mode), "v2", cfg.V2,
		"release", cfg.Release, "faults", faults}
	if off := cfg.Faults.elsewhere(platform).String(); off != "" {
		attrs = append(attrs, "faults_other_platforms", off)
	}
	return attrs
}
