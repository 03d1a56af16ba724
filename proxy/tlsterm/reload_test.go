package tlsterm

import (
	"strings"
	"testing"
)

func servedSerial(s *Store) string {
	c, _ := s.GetCertificate(nil)
	return serialHex(c.Leaf)
}

// TestReloadKeepsOldPairOnError: every broken state of a replacement (the certificate
// before the key, a garbage key, a missing file) keeps the old pair serving, logs one
// warning per Reload and shows in Info; the whole new pair then switches.
func TestReloadKeepsOldPairOnError(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	a, b := issue(t, ca, "a.test"), issue(t, ca, "b.test")
	certFile, keyFile := writePair(t, dir, a)
	var logs logRecorder
	s, err := NewStore(certFile, keyFile, logs.logger())
	if err != nil {
		t.Fatal(err)
	}

	broken := []struct {
		name    string
		prepare func()
		want    string
	}{
		{"new certificate, old key", func() { writeFile(t, dir, "tls.crt", b.cert) }, "key does not match the certificate in TLS_CERT_FILE="},
		{"garbage key", func() {
			writeFile(t, dir, "tls.key", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
		}, "malformed PRIVATE KEY"},
		{"key missing", func() { mustRemove(t, keyFile) }, "no such file or directory"},
		{"key empty", func() { writeFile(t, dir, "tls.key", nil) }, "file is empty"},
	}
	for i, tc := range broken {
		tc.prepare()
		err := s.Reload()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: Reload() = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if got := servedSerial(s); got != a.serial {
			t.Fatalf("%s: serving %s, want the old certificate %s", tc.name, got, a.serial)
		}
		info := s.Info()
		if info.LastError != err.Error() || info.Reloads != 0 || info.Serial != a.serial {
			t.Fatalf("%s: Info serial %s, reloads %d, last error %q; want %s, 0, %q", tc.name, info.Serial, info.Reloads, info.LastError, a.serial, err)
		}
		if got := logs.matching(`level=WARN msg="TLS reload failed; serving the previous certificate"`, "serial="+a.serial); len(got) != i+1 {
			t.Fatalf("%s: %d reload warnings, want %d; logs:\n%s", tc.name, len(got), i+1, &logs)
		}
	}

	writePair(t, dir, b)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(s); got != b.serial {
		t.Fatalf("serving %s after a good reload, want %s", got, b.serial)
	}
	if info := s.Info(); info.Reloads != 1 || info.LastError != "" || info.Subject != "CN=b.test" {
		t.Fatalf("Info after a good reload: reloads %d, last error %q, subject %q", info.Reloads, info.LastError, info.Subject)
	}
	if len(logs.matching(`level=INFO msg="TLS certificate reloaded"`, "serial="+b.serial)) != 1 {
		t.Fatalf("no reload line for %s; logs:\n%s", b.serial, &logs)
	}
}
