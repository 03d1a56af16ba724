package lab

import (
	"os"
	"path/filepath"
	"testing"
)

func TestForeignDebsAndFakePostinst(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := foreignDebs(dir); err == nil {
		t.Fatal("no packages accepted")
	}
	mk("var/cache/apt/archives/b.deb", "")
	mk("var/cache/apt/archives/a.deb", "")
	debs, err := foreignDebs(dir)
	if err != nil || len(debs) != 2 || filepath.Base(debs[0]) != "a.deb" {
		t.Fatalf("glob fallback: %v %v", debs, err)
	}
	mk("debootstrap/debpaths", "dash /var/cache/apt/archives/dash_0.5.12-2_arm64.deb\nbase-passwd /var/cache/apt/archives/base-passwd_3.6.1_arm64.deb\n")
	debs, err = foreignDebs(dir)
	if err != nil || len(debs) != 2 || debs[0] != filepath.Join(dir, "/var/cache/apt/archives/base-passwd_3.6.1_arm64.deb") {
		t.Fatalf("debpaths: %v %v", debs, err)
	}

	mk("usr/share/base-passwd/passwd.master", "root:x:0:0:root:/root:/bin/bash\n")
	mk("usr/share/base-passwd/group.master", "root:x:0:\n")
	mk("etc/group", "custom:x:5:\n") // already there: kept
	if err := os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fakePostinst(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/passwd")); string(b) != "root:x:0:0:root:/root:/bin/bash\n" {
		t.Fatalf("passwd = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/group")); string(b) != "custom:x:5:\n" {
		t.Fatalf("group overwritten: %q", b)
	}
	if l, err := os.Readlink(filepath.Join(dir, "usr/bin/sh")); err != nil || l != "dash" {
		t.Fatalf("sh link = %q %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "debootstrap")); !os.IsNotExist(err) {
		t.Fatal("debootstrap dir left")
	}
	if err := fakePostinst(dir); err != nil {
		t.Fatalf("second run: %v", err)
	}
}
