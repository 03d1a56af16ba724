package provision

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteEngineTar(t *testing.T) {
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	_ = tw.WriteHeader(&tar.Header{Name: "./usr/sbin/runc", Mode: 0o755, Size: 4, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("runc"))
	_ = tw.Close()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "engine"), []byte("ENGINE"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	files := []engineFile{
		{path: "usr/local/bin/dagger-engine", src: filepath.Join(bin, "engine"), mode: 0o755},
		{path: "usr/local/bin/runc", link: "/usr/sbin/runc"},
		{path: "etc/dagger", dir: true, mode: 0o755},
		{path: "etc/dagger/engine.toml", body: engineTOML, mode: 0o644},
	}
	if err := writeEngineTar(&out, &rootfs, files); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b) + h.Linkname
	}
	want := map[string]string{
		"./usr/sbin/runc":               "runc",
		"./usr/local/bin/dagger-engine": "ENGINE",
		"./usr/local/bin/runc":          "/usr/sbin/runc",
		"./etc/dagger":                  "",
		"./etc/dagger/engine.toml":      engineTOML,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %q (present %v), want %q; all: %v", k, g, ok, v, got)
		}
	}
	if err := writeEngineTar(io.Discard, bytes.NewReader(rootfs.Bytes()), []engineFile{{path: "x", src: "/nonexistent"}}); err == nil {
		t.Fatal("missing binary must fail")
	}
}
