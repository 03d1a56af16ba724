package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// debootstrapNative builds a complete rootfs for an arch the host runs natively (amd64,
// and i386 on an x86_64 kernel): debootstrap runs the package scripts itself.
func (b *Builder) debootstrapNative(ctx context.Context, a Arch, r Recipe, dir string) error {
	b.Progress("%s: debootstrap %s %s (native, minbase + %s)", a.Name, r.Suite, r.Debian, strings.Join(r.Packages, ","))
	logPath := b.labDir("logs", "debootstrap-"+a.Debian+".log")
	stop := b.heartbeat(a, logPath)
	defer stop()
	return runLogged(ctx, logPath, "debootstrap",
		"--arch="+r.Debian, "--variant="+r.Variant, "--include="+strings.Join(r.Packages, ","),
		r.Suite, dir, r.Mirror)
}

// heartbeat reports the last line of a long step's log every 30 s until stop is called,
// so a cold build (minutes of debootstrap) shows it is moving.
func (b *Builder) heartbeat(a Arch, logPath string) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if l := tail(logPath, 1); l != "" {
					b.Progress("%s: … %s", a.Name, l)
				}
			}
		}
	}()
	return func() { close(done) }
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
