package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBinfmt(t *testing.T) {
	en, flags := parseBinfmt("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n")
	if !en || flags != "PF" {
		t.Fatalf("got %v %q", en, flags)
	}
	en, flags = parseBinfmt("disabled\ninterpreter /x\nflags: \n")
	if en || flags != "" {
		t.Fatalf("got %v %q", en, flags)
	}
}

func TestCheckEmulation(t *testing.T) {
	dir := t.TempDir()
	old := binfmtDir
	binfmtDir = dir
	defer func() { binfmtDir = old }()
	arm64, _ := ParseArch("arm64")
	if msg := checkEmulation("amd64", arm64); !strings.Contains(msg, "no binfmt_misc handler qemu-aarch64") || !strings.Contains(msg, "fix:") {
		t.Fatalf("missing handler: %q", msg)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "qemu-aarch64"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("enabled\nflags: P\n")
	if msg := checkEmulation("amd64", arm64); !strings.Contains(msg, "lacks the F flag") {
		t.Fatalf("no F: %q", msg)
	}
	write("disabled\nflags: PF\n")
	if msg := checkEmulation("amd64", arm64); !strings.Contains(msg, "disabled") {
		t.Fatalf("disabled: %q", msg)
	}
	write("enabled\nflags: PF\n")
	if msg := checkEmulation("amd64", arm64); msg != "" {
		t.Fatalf("good handler refused: %q", msg)
	}
	if msg := checkEmulation("arm64", arm64); msg == "" {
		t.Fatal("emulation on a non-x86_64 host accepted")
	}
}

func TestPrivilegedWorks(t *testing.T) {
	// This VM: CAP_SYS_RESOURCE (24) missing from the bounding set.
	if privilegedWorks("Name:\tdockerd\nCapBnd:\t000001fffeffffff\n", 40) {
		t.Fatal("bounding set without SYS_RESOURCE accepted")
	}
	if !privilegedWorks("CapBnd:\t000001ffffffffff\n", 40) {
		t.Fatal("full bounding set refused")
	}
	if privilegedWorks("CapEff:\t0\n", 40) || privilegedWorks("CapBnd:\tzz\n", 40) {
		t.Fatal("garbage accepted")
	}
}

func TestFirstHost(t *testing.T) {
	if gw, err := firstHost("172.17.0.0/16"); err != nil || gw != "172.17.0.1" {
		t.Fatalf("firstHost = %s, %v", gw, err)
	}
	if _, err := firstHost("fd00::/64"); err == nil {
		t.Fatal("IPv6 subnet accepted")
	}
	if _, err := firstHost("nope"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestCheckBuildTools(t *testing.T) {
	if os.Geteuid() != 0 {
		if msg := checkBuildTools(false); !strings.Contains(msg, "needs root") || !strings.Contains(msg, "fix:") {
			t.Fatalf("not root: %q", msg)
		}
		return
	}
	t.Setenv("PATH", t.TempDir())
	if msg := checkBuildTools(true); !strings.Contains(msg, "needs debootstrap") || !strings.Contains(msg, "apt-get install -y debootstrap") {
		t.Fatalf("no debootstrap: %q", msg)
	}
	dir := t.TempDir()
	for _, tool := range []string{"debootstrap", "tar", "cp"} {
		if err := os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	if msg := checkBuildTools(false); msg != "" {
		t.Fatalf("native build with all tools refused: %q", msg)
	}
	if msg := checkBuildTools(true); !strings.Contains(msg, "dpkg-deb") {
		t.Fatalf("foreign build without dpkg-deb accepted: %q", msg)
	}
}

func TestHostEngine(t *testing.T) {
	cases := map[string]string{
		"":                             "unix:///var/run/docker.sock",
		"unix:///run/user/1000/d.sock": "unix:///run/user/1000/d.sock",
		"tcp://172.17.0.4:2375":        "unix:///var/run/docker.sock", // the lab manager: not where nodes run
		"ssh://me@cluster":             "unix:///var/run/docker.sock",
	}
	for in, want := range cases {
		if got := hostEngine(in); got != want {
			t.Errorf("hostEngine(%q) = %q, want %q", in, got, want)
		}
	}
}
