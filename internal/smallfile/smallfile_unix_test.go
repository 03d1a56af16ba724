//go:build unix

package smallfile

import (
	"path/filepath"
	"syscall"
	"testing"
)

// A FIFO (no writer) and an endless device are refused at once: neither read blocks
// or runs out of memory.
func TestReadRefusesFIFOAndDevices(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, "/dev/zero"} {
		if _, err := Read(p, 1<<20); err == nil || err.Error() != "not a regular file" {
			t.Errorf("Read(%s) = %v, want not a regular file", p, err)
		}
	}
}
