package provision

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// binfmtDir is where the kernel exposes binfmt_misc registrations.
var binfmtDir = "/proc/sys/fs/binfmt_misc"

// ForeignArches are the qemu interpreters the 8 target platforms need on an amd64
// host (386 runs natively) — Docker platform name → binfmt entry.
var ForeignArches = []struct{ Platform, Entry string }{
	{"arm64", "qemu-aarch64"},
	{"arm (v6/v7)", "qemu-arm"},
	{"ppc64le", "qemu-ppc64le"},
	{"s390x", "qemu-s390x"},
	{"riscv64", "qemu-riscv64"},
}

// binfmtStatus reports, per entry, whether it is registered, enabled and has the F
// flag (interpreter opened at registration, so it works inside containers too).
func binfmtStatus(dir string) (ok, missing []string) {
	for _, a := range ForeignArches {
		b, err := os.ReadFile(filepath.Join(dir, a.Entry))
		s := string(b)
		if err == nil && strings.HasPrefix(s, "enabled") && flagsHaveF(s) {
			ok = append(ok, a.Platform)
		} else {
			missing = append(missing, a.Entry)
		}
	}
	return ok, missing
}

func flagsHaveF(entry string) bool {
	for _, line := range strings.Split(entry, "\n") {
		if f, found := strings.CutPrefix(line, "flags: "); found {
			return strings.Contains(f, "F")
		}
	}
	return false
}

// EnsureBinfmt mounts binfmt_misc and registers the qemu-user-static interpreters.
func (p *Provisioner) EnsureBinfmt(ctx context.Context) error {
	if ok, missing := binfmtStatus(binfmtDir); len(missing) == 0 {
		p.say("binfmt", "registered: %s (386 native)", strings.Join(ok, ", "))
		return nil
	}
	if err := p.EnsurePackages(ctx, "binfmt", "qemu-user-static", "binfmt-support"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(binfmtDir, "register")); err != nil {
		if _, err := p.Run.Run(ctx, nil, nil, "mount", "-t", "binfmt_misc", "binfmt_misc", binfmtDir); err != nil {
			return fmt.Errorf("mount binfmt_misc on %s: %w (needs root, or run `sudo mount -t binfmt_misc binfmt_misc %s`)", binfmtDir, err, binfmtDir)
		}
	}
	if _, err := p.Run.Run(ctx, nil, nil, "update-binfmts", "--enable"); err != nil {
		return fmt.Errorf("update-binfmts --enable: %w", err)
	}
	ok, missing := binfmtStatus(binfmtDir)
	if len(missing) > 0 {
		return fmt.Errorf("after update-binfmts still not registered with the F flag: %s (reinstall qemu-user-static)", strings.Join(missing, ", "))
	}
	p.say("binfmt", "enabled: %s (386 native)", strings.Join(ok, ", "))
	return nil
}
