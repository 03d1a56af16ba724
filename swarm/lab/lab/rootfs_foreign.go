package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// debootstrapForeign builds a rootfs for an emulated arch without the qemu second stage:
// debootstrap --foreign downloads and unpacks the base, then every .deb is extracted with
// dpkg-deb -x and the few results of package scripts the node needs are faked. Running the
// second stage under qemu would take minutes; this takes seconds.
func (b *Builder) debootstrapForeign(ctx context.Context, a Arch, r Recipe, dir string) error {
	b.Progress("%s: debootstrap --foreign %s %s (minbase + %s)", a.Name, r.Suite, r.Debian, strings.Join(r.Packages, ","))
	stop := b.heartbeat(a, b.labDir("logs", "debootstrap-"+a.Debian+".log"))
	defer stop()
	if err := runLogged(ctx, b.labDir("logs", "debootstrap-"+a.Debian+".log"), "debootstrap", "--foreign",
		"--arch="+r.Debian, "--variant="+r.Variant, "--include="+strings.Join(r.Packages, ","),
		r.Suite, dir, r.Mirror); err != nil {
		return err
	}
	debs, err := foreignDebs(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", a.Name, err)
	}
	b.Progress("%s: unpacking %d packages with dpkg-deb -x", a.Name, len(debs))
	logPath := b.labDir("logs", "unpack-"+a.Debian+".log")
	for i, d := range debs {
		if err := runLogged(ctx, logPath, "dpkg-deb", "-x", d, dir); err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		if (i+1)%40 == 0 {
			b.Progress("%s: … unpacked %d/%d", a.Name, i+1, len(debs))
		}
	}
	return fakePostinst(dir)
}

// foreignDebs lists the .deb files debootstrap's first stage left for the second stage,
// from its debpaths file when present, else from the apt archive directory.
func foreignDebs(dir string) ([]string, error) {
	var out []string
	if f, err := os.Open(filepath.Join(dir, "debootstrap", "debpaths")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 2 {
				out = append(out, filepath.Join(dir, fields[1]))
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read debpaths: %w", err)
		}
	}
	if len(out) == 0 {
		m, err := filepath.Glob(filepath.Join(dir, "var", "cache", "apt", "archives", "*.deb"))
		if err != nil {
			return nil, err
		}
		out = m
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no packages found after debootstrap --foreign in %s", dir)
	}
	sort.Strings(out)
	return out, nil
}

// fakePostinst does what the skipped package scripts would have done that the node needs:
// users and groups, /bin/sh, and removes the second-stage leftovers.
func fakePostinst(dir string) error {
	for _, f := range []string{"passwd", "group"} {
		p := filepath.Join(dir, "etc", f)
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "usr", "share", "base-passwd", f+".master"))
		if err != nil {
			return fmt.Errorf("fake postinst: %w", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("fake postinst: %w", err)
		}
	}
	sh := filepath.Join(dir, "usr", "bin", "sh")
	if _, err := os.Lstat(sh); err != nil {
		if err := os.Symlink("dash", sh); err != nil {
			return fmt.Errorf("fake postinst: %w", err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "debootstrap")); err != nil {
		return fmt.Errorf("fake postinst: %w", err)
	}
	return nil
}
