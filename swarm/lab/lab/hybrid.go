package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// hybridLib holds the native binaries of a hybrid node image.
const hybridLib = "usr/local/lib/archway-native"

// makeHybrid turns a foreign-arch rootfs (dockerd and containerd run under qemu-user)
// into one that works: qemu-user cannot do the netlink/xtables calls of iptables, nor run
// the shim and runc reliably, so those come native from the host-arch rootfs ndir, with
// runc behind the runc wrapper (see package runcwrap). /usr/local/sbin is first in PATH,
// so dockerd and containerd find the native tools before the emulated ones.
//
// Only an x86_64 host is supported: the native library directory is x86_64-linux-gnu.
func makeHybrid(dir, ndir string) error {
	for _, d := range []string{"usr/lib/x86_64-linux-gnu", "usr/lib64", hybridLib, "usr/local/sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	// cp -a keeps the symlinks of the library directory (Go would need a page of code).
	if b, err := exec.Command("cp", "-a", filepath.Join(ndir, "usr/lib/x86_64-linux-gnu")+"/.",
		filepath.Join(dir, "usr/lib/x86_64-linux-gnu")+"/").CombinedOutput(); err != nil {
		return fmt.Errorf("copy native libraries: %w: %s", err, b)
	}
	// Native programs name /lib64/ld-linux-x86-64.so.2 as their interpreter. /lib64 is a
	// link to usr/lib64, absent (arm64, armhf) or, after dpkg-deb -x without merged /usr, a
	// real directory (ppc64el, for its own ld64.so.2).
	const ld = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
	links := map[string]string{"usr/lib64/ld-linux-x86-64.so.2": ld}
	if st, err := os.Lstat(filepath.Join(dir, "lib64")); err != nil {
		links["lib64"] = "usr/lib64"
	} else if st.IsDir() {
		links["lib64/ld-linux-x86-64.so.2"] = ld
	}
	for _, bin := range []string{"usr/sbin/xtables-nft-multi", "usr/sbin/runc", "usr/bin/containerd-shim-runc-v2"} {
		if b, err := exec.Command("cp", "-a", filepath.Join(ndir, bin), filepath.Join(dir, hybridLib)+"/").CombinedOutput(); err != nil {
			return fmt.Errorf("copy native %s: %w: %s", bin, err, b)
		}
	}
	for _, n := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"} {
		links["usr/local/sbin/"+n] = "/" + hybridLib + "/xtables-nft-multi"
	}
	links["usr/local/sbin/runc"] = "/" + hybridLib + "/" + helperRunc.Name
	links["usr/local/sbin/containerd-shim-runc-v2"] = "/" + hybridLib + "/containerd-shim-runc-v2"
	for rel, target := range links {
		p := filepath.Join(dir, rel)
		_ = os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return fmt.Errorf("hybrid link %s: %w", rel, err)
		}
	}
	return nil
}
