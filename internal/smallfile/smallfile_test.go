package smallfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(ok, 64); err != nil || string(b) != "token\n" {
		t.Fatalf("Read(ok) = %q, %v", b, err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2049), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		max  int64
		want string
	}{
		{big, 2048, "larger than 2 KiB"},
		{big, 100, "larger than 100 bytes"},
		{dir, 64, "is a directory, not a file"},
		{filepath.Join(dir, "missing"), 64, "no such file or directory"},
	} {
		if _, err := Read(c.path, c.max); err == nil || err.Error() != c.want {
			t.Errorf("Read(%s, %d) = %v, want %q", filepath.Base(c.path), c.max, err, c.want)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want an error that is fs.ErrNotExist", err)
	}
}
