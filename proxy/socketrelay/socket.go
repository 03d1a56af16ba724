package socketrelay

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// maxSocketPath is the longest path a unix socket can have on Linux (sun_path is 108
// bytes, NUL included); longer ones fail in bind with an obscure error.
const maxSocketPath = 107

// clearStale makes room for the socket at path: nothing there is fine; a socket nobody
// answers on (a relay that was killed) is removed. Anything else is an error and left
// alone: a regular file or directory is somebody's data, and a live socket is another
// relay, which this one must not silently replace.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("exists and is not a socket (mode %s); refusing to remove it", fi.Mode())
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return errors.New("a socket in use (something answers on it); refusing to replace it")
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// listen creates the socket at path and gives it to uid:gid (-1 leaves either) with mode.
//
// Between bind and chmod the socket has the umask's mode. That window is harmless: what a
// client connecting then reaches is the relay, filtered like any other connection.
func listen(path string, uid, gid int, mode fs.FileMode) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if uid != -1 || gid != -1 {
		if err := os.Chown(path, uid, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("chown %d:%d: %w", uid, gid, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod %04o: %w", mode, err)
	}
	return ln, nil
}
