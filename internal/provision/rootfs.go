package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Rootfs is a Debian root filesystem made with debootstrap and cached as a tarball.
type Rootfs struct {
	Name     string
	Suite    string
	Packages []string
}

// BaseRootfs is the build base: what the pipeline's lint/test/build steps need
// (gcc + libc6-dev for -race, git, CA certificates) and what runs the registry.
// nginx-light and haproxy are there for the unit tests that check the load bench's
// generated configurations with `nginx -t` and `haproxy -c` (the images are scratch,
// so nothing of the base reaches them).
var BaseRootfs = Rootfs{Name: "base", Suite: "bookworm", Packages: []string{"ca-certificates", "git", "gcc", "libc6-dev", "nginx-light", "haproxy"}}

// EngineRootfs carries the Dagger engine's runtime dependencies (runc from Debian)
// plus socat, which forwards 127.0.0.1:5000 inside the engine to the registry.
var EngineRootfs = Rootfs{Name: "engine", Suite: "bookworm", Packages: []string{
	"ca-certificates", "git", "openssh-client", "pigz", "xz-utils", "iptables", "dnsmasq-base",
	"util-linux", "mount", "procps", "iproute2", "runc", "socat",
}}

// Key identifies the rootfs content recipe (suite + package set).
func (r Rootfs) Key() string {
	h := sha256.Sum256([]byte(r.Suite + "\n" + strings.Join(r.Packages, ",")))
	return hex.EncodeToString(h[:])[:12]
}

// Tarball is the cached tarball path for this recipe.
func (c Config) rootfsTarball(r Rootfs) string {
	return c.path("rootfs", fmt.Sprintf("%s-%s-%s.tar", r.Name, r.Suite, r.Key()))
}

// EnsureRootfs returns the cached rootfs tarball, running debootstrap when missing.
func (p *Provisioner) EnsureRootfs(ctx context.Context, step string, r Rootfs) (string, error) {
	p.rootfsMu.Lock()
	defer p.rootfsMu.Unlock()
	out := p.Cfg.rootfsTarball(r)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := p.EnsurePackages(ctx, step, "debootstrap"); err != nil {
		return "", err
	}
	dir := out + ".d"
	_ = os.RemoveAll(dir)
	t0 := time.Now()
	p.say(step, "debootstrap %s minbase + %s (log %s)", r.Suite, strings.Join(r.Packages, ","), p.Cfg.path("logs", "debootstrap-"+r.Name+".log"))
	args := []string{"--variant=minbase", "--cache-dir=" + p.Cfg.path("debs"), "--include=" + strings.Join(r.Packages, ","), r.Suite, dir}
	if p.Cfg.DebianMirror != "" {
		args = append(args, p.Cfg.DebianMirror)
	}
	logOut, err := p.Run.Run(ctx, nil, nil, "debootstrap", args...)
	_ = os.WriteFile(p.Cfg.path("logs", "debootstrap-"+r.Name+".log"), []byte(logOut), 0o644)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("debootstrap %s: %w (needs root and access to the Debian mirror; set ARCHWAY_DEBIAN_MIRROR to use another)", r.Name, err)
	}
	for _, junk := range []string{"var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info"} {
		matches, _ := filepath.Glob(filepath.Join(dir, junk, "*"))
		for _, m := range matches {
			if filepath.Base(m) != "partial" && filepath.Base(m) != "lock" {
				_ = os.RemoveAll(m)
			}
		}
	}
	if _, err := p.Run.Run(ctx, nil, nil, "tar", "--numeric-owner", "-C", dir, "-cf", out+".tmp", "."); err != nil {
		return "", fmt.Errorf("tar rootfs %s: %w", r.Name, err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return "", err
	}
	_ = os.RemoveAll(dir)
	p.say(step, "rootfs %s cached as %s (%.0fs)", r.Name, out, time.Since(t0).Seconds())
	return out, nil
}
