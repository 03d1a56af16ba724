package tlsterm

import "os"

// stamp identifies a file's content without reading it: modification time, size and,
// where the system has them, device and inode. The inode catches a replacement by
// rename (an atomic writer, the Kubernetes "..data" symlink swap) that kept the size
// and landed within the same mtime tick.
type stamp struct {
	ok       bool // stat succeeded
	modNanos int64
	size     int64
	dev, ino uint64
}

// stampOf stats name, following symlinks: a Kubernetes secret volume's tls.crt is
// a symlink to ..data/tls.crt, and ..data the symlink that is swapped.
func stampOf(name string) stamp {
	fi, err := os.Stat(name)
	if err != nil {
		return stamp{}
	}
	st := stamp{ok: true, modNanos: fi.ModTime().UnixNano(), size: fi.Size()}
	st.dev, st.ino = fileID(fi)
	return st
}

// stamps are the identities of the certificate and the key file.
func (f files) stamps() [2]stamp { return [2]stamp{stampOf(f.certFile), stampOf(f.keyFile)} }
