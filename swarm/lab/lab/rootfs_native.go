package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// debootstrapNative builds a complete rootfs for an arch the host runs natively (amd64,
// and i386 on an x86_64 kernel): debootstrap runs the package scripts itself.
func (b *Builder) debootstrapNative(ctx context.Context, a Arch, r Recipe, dir string) error {
	b.Progress("%s: debootstrap %s %s (native, minbase + %s)", a.Name, r.Suite, r.Debian, strings.Join(r.Packages, ","))
	return runLogged(ctx, b.labDir("logs", "debootstrap-"+a.Debian+".log"), "debootstrap",
		"--arch="+r.Debian, "--variant="+r.Variant, "--include="+strings.Join(r.Packages, ","),
		r.Suite, dir, r.Mirror)
}

// runLogged runs a command with its output in logPath; on failure the error carries the
// last lines of the log.
func runLogged(ctx context.Context, logPath, name string, args ...string) error {
	f, err := createLog(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (log %s: %s)", name, err, logPath, tail(logPath, 3))
	}
	return nil
}
