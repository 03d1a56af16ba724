package runcwrap

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type fakeProc struct {
	links map[string]string
	files map[string]string
}

func (f fakeProc) Readlink(p string) (string, error) {
	if v, ok := f.links[p]; ok {
		return v, nil
	}
	return "", errors.New("no link")
}

func (f fakeProc) ReadFile(p string) ([]byte, error) {
	if v, ok := f.files[p]; ok {
		return []byte(v), nil
	}
	return nil, errors.New("no file")
}

var proc = fakeProc{
	links: map[string]string{
		"/proc/42/exe": "/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
		"/proc/7/exe":  "/usr/sbin/dockerd",
	},
	files: map[string]string{"/proc/42/cmdline": "/usr/libexec/qemu-binfmt/aarch64-binfmt-P\x00/usr/sbin/dockerd\x00/usr/sbin/dockerd\x00-H\x00"},
}

func TestGuestExe(t *testing.T) {
	cases := map[string]string{
		"/proc/42/exe":   "/usr/sbin/dockerd",
		"/proc/7/exe":    "", // native dockerd: leave alone
		"/usr/bin/true":  "",
		"/proc/99/exe":   "", // unreadable link
		"/proc/42/exe/x": "",
	}
	for in, want := range cases {
		if got := GuestExe(proc, in); got != want {
			t.Errorf("GuestExe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFixBundle(t *testing.T) {
	dir := t.TempDir()
	spec := `{"ociVersion":"1.0.2","hooks":{"prestart":[{"path":"/proc/42/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","abc"]},{"path":"/proc/7/exe"}]}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := FixBundle(proc, dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	got := string(b)
	if !strings.Contains(got, `"path":"/usr/sbin/dockerd"`) || !strings.Contains(got, `"path":"/proc/7/exe"`) || strings.Contains(got, "/proc/42/exe") {
		t.Fatalf("bundle not fixed as expected: %s", got)
	}
	if !strings.Contains(got, "libnetwork-setkey") {
		t.Fatalf("hook args lost: %s", got)
	}
}

func TestFixSpecUnchangedAndBad(t *testing.T) {
	in := []byte(`{"hooks":{"prestart":[{"path":"/usr/bin/hook"}]}}`)
	out, changed, err := FixSpec(proc, in)
	if err != nil || changed || string(out) != string(in) {
		t.Fatalf("unchanged spec rewritten: %s %v %v", out, changed, err)
	}
	if _, _, err := FixSpec(proc, []byte("{")); err == nil {
		t.Fatal("bad json accepted")
	}
}

func TestBundleDirs(t *testing.T) {
	got := BundleDirs([]string{"--root", "/r", "create", "--bundle", "/b1", "-b", "/b2", "--bundle=/b3", "id", "-b"})
	want := []string{"/b1", "/b2", "/b3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("BundleDirs = %v, want %v", got, want)
	}
}
