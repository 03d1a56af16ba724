package tlsterm

import (
	"os"
	"path/filepath"
)

// File names WriteFiles uses: a Kubernetes TLS secret's keys.
const (
	CertFileName = "tls.crt"
	KeyFileName  = "tls.key"
)

// WriteFiles writes a pair into dir as CertFileName (mode 0644) and KeyFileName (0600),
// each atomically (a temporary file in dir, synced, then renamed over the old one), so
// that a Store watching them never reads half a file. The key is written first; a
// watcher that looks between the two renames sees the new key with the old certificate,
// which fails to load, and keeps serving the old pair until the certificate follows.
func WriteFiles(dir string, certPEM, keyPEM []byte) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
	if err := writeAtomic(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeAtomic(certFile, certPEM, 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeAtomic replaces name with data. The temporary file is created 0600 by
// os.CreateTemp and only then given perm, so a key is never readable by others.
func writeAtomic(name string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
