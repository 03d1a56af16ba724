//go:build unix

package tlsterm

import (
	"os"
	"syscall"
)

// fileID is the file's device and inode.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		// The conversions are needed where Dev is int32 or Ino uint32 (the BSDs, 32-bit).
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
