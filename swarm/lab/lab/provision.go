package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/archwayhq/archway/internal/provision"
)

// ProvisionHost is where the lab hands the host to internal/provision: a running Docker
// engine, binfmt_misc with the qemu handlers, and the registry on 127.0.0.1:5000 (with
// the base image it runs in). The Dagger parts of `go run ./ci setup` are not needed here.
// Every step is idempotent and a quick check when already done. Progress goes to out.
// Use it as Options.Provision: func(ctx context.Context) error { return ProvisionHost(ctx, w) }.
func ProvisionHost(ctx context.Context, out io.Writer) error {
	cfg, err := provision.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	// Setup creates these before its steps; the steps called one by one expect them.
	for _, d := range []string{"bin", "logs", "run", "base", "rootfs", "debs", "registry"} {
		if err := os.MkdirAll(filepath.Join(cfg.Home, d), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	p := &provision.Provisioner{Cfg: cfg, Run: provision.ExecRunner{}, Out: out, Getenv: os.Getenv}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"docker engine", p.EnsureDocker},
		{"binfmt", p.EnsureBinfmt},
		{"base image", p.EnsureBaseImage},
		{"registry", p.EnsureRegistry},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}
