package tlsterm

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond every 5 ms until it holds, failing the test with what it waited
// for after 10 s (generous for -race on a loaded machine; a pass takes milliseconds).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	const limit = 10 * time.Second
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logRecorder keeps every line a text slog.Logger writes.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (l *logRecorder) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// matching returns the lines containing every one of subs.
func (l *logRecorder) matching(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA("archway test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// leaf is an issued pair, PEM, and its serial as Info writes it.
type leaf struct {
	cert, key []byte
	serial    string
}

func issue(t testing.TB, ca *CA, hosts ...string) leaf {
	t.Helper()
	c, k, err := ca.Issue(hosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return leaf{c, k, pemSerial(t, c)}
}

func pemSerial(t testing.TB, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return serialHex(c)
}

// signLeaf issues a server certificate for pub (any algorithm) from ca, for the key
// types Issue does not make.
func signLeaf(t testing.TB, ca *CA, pub crypto.PublicKey, hosts ...string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// writeFile writes data to dir/name atomically and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := writeAtomic(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writePair writes l as dir/tls.crt and dir/tls.key.
func writePair(t testing.TB, dir string, l leaf) (certFile, keyFile string) {
	t.Helper()
	c, k, err := WriteFiles(dir, l.cert, l.key)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func mustRemove(t testing.TB, name string) {
	t.Helper()
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
}
