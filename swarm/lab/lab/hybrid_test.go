package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeNative is a minimal host-arch rootfs with the files makeHybrid copies.
func fakeNative(t *testing.T) string {
	t.Helper()
	n := t.TempDir()
	for _, f := range []string{"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "usr/lib/x86_64-linux-gnu/libc.so.6",
		"usr/sbin/xtables-nft-multi", "usr/sbin/runc", "usr/bin/containerd-shim-runc-v2"} {
		p := filepath.Join(n, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestMakeHybrid(t *testing.T) {
	if _, err := exec.LookPath("cp"); err != nil {
		t.Skip("no cp")
	}
	native := fakeNative(t)
	for name, setup := range map[string]func(dir string) error{
		"no lib64 (arm64)":      func(string) error { return nil },
		"lib64 link (s390x)":    func(dir string) error { return os.Symlink("usr/lib64", filepath.Join(dir, "lib64")) },
		"lib64 directory (ppc)": func(dir string) error { return os.MkdirAll(filepath.Join(dir, "lib64"), 0o755) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := setup(dir); err != nil {
				t.Fatal(err)
			}
			if err := makeHybrid(dir, native); err != nil {
				t.Fatal(err)
			}
			// The interpreter path of native binaries must resolve inside the rootfs.
			if got := resolveIn(t, dir, "/lib64/ld-linux-x86-64.so.2"); got != "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" {
				t.Fatalf("/lib64/ld-linux-x86-64.so.2 resolves to %q", got)
			}
			for link, want := range map[string]string{
				"/usr/local/sbin/iptables":                "/" + hybridLib + "/xtables-nft-multi",
				"/usr/local/sbin/ip6tables-restore":       "/" + hybridLib + "/xtables-nft-multi",
				"/usr/local/sbin/runc":                    "/" + hybridLib + "/runc-wrapper",
				"/usr/local/sbin/containerd-shim-runc-v2": "/" + hybridLib + "/containerd-shim-runc-v2",
			} {
				if got, err := os.Readlink(filepath.Join(dir, link)); err != nil || got != want {
					t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
				}
			}
			if b, err := os.ReadFile(filepath.Join(dir, hybridLib, "runc")); err != nil || string(b) != "usr/sbin/runc" {
				t.Errorf("native runc not copied: %q %v", b, err)
			}
			if err := makeHybrid(dir, native); err != nil {
				t.Fatalf("second run (idempotent): %v", err)
			}
		})
	}
}

// resolveIn follows symlinks of p inside root (absolute links are relative to root) and
// returns the final path relative to root, or "missing:…".
func resolveIn(t *testing.T, root, p string) string {
	t.Helper()
	cur, rest := "", splitPath(p)
	for hops := 0; len(rest) > 0; hops++ {
		if hops > 40 {
			t.Fatalf("symlink loop resolving %s", p)
		}
		next := filepath.Join(cur, rest[0])
		rest = rest[1:]
		l, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			cur = next
			continue
		}
		if filepath.IsAbs(l) {
			cur = ""
		}
		rest = append(splitPath(l), rest...)
	}
	if _, err := os.Lstat(filepath.Join(root, cur)); err != nil {
		return "missing:" + cur
	}
	return cur
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}
