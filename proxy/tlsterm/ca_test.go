package tlsterm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCAIssue: a leaf verifies against the CA for each of its hosts, as a server
// certificate, with a fresh 128-bit random serial and a P-256 key.
func TestCAIssue(t *testing.T) {
	ca := newTestCA(t)
	if !ca.cert.IsCA || ca.cert.KeyUsage&x509.KeyUsageCertSign == 0 || !ca.cert.MaxPathLenZero {
		t.Fatalf("CA: IsCA %v, KeyUsage %b, MaxPathLenZero %v", ca.cert.IsCA, ca.cert.KeyUsage, ca.cert.MaxPathLenZero)
	}
	if pub, ok := ca.cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("CA key %T, want ECDSA P-256", ca.cert.PublicKey)
	}
	if b, _ := pem.Decode(ca.CertPEM()); b == nil || b.Type != "CERTIFICATE" {
		t.Fatal("CertPEM is not a PEM certificate")
	}

	hosts := []string{"app.test", "*.app.test", "127.0.0.1", "::1"}
	certPEM, keyPEM, err := ca.Issue(hosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"app.test", "x.app.test", "127.0.0.1", "::1"} {
		if _, err := c.Verify(x509.VerifyOptions{DNSName: h, Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify for %s: %v", h, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: ca.Pool()}); err == nil {
		t.Error("leaf verifies for a host it was not issued for")
	}
	if c.IsCA || c.Subject.CommonName != "app.test" {
		t.Errorf("leaf IsCA %v, CN %q", c.IsCA, c.Subject.CommonName)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v is not a positive 128-bit number", c.SerialNumber)
	}
	if time.Until(c.NotAfter) > time.Hour || time.Until(c.NotAfter) < 59*time.Minute || !c.NotBefore.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("validity %v .. %v, want backdated to now+1h", c.NotBefore, c.NotAfter)
	}
	if kb, _ := pem.Decode(keyPEM); kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatal("key is not a PEM PKCS#8 PRIVATE KEY")
	} else if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err != nil {
		t.Fatal(err)
	} else if ek, ok := k.(*ecdsa.PrivateKey); !ok || ek.Curve != elliptic.P256() || !ek.PublicKey.Equal(c.PublicKey) {
		t.Fatalf("key %T is not the leaf's P-256 key", k)
	}
	other, _, err := ca.Issue(hosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ob, _ := pem.Decode(other)
	if oc, err := x509.ParseCertificate(ob.Bytes); err != nil || oc.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Errorf("a second leaf (%v) shares the serial %v", err, c.SerialNumber)
	}

	for _, bad := range [][]string{nil, {""}, {"a b"}, {"host:443"}, {"http://host"}, {"a@b"}} {
		if _, _, err := ca.Issue(bad, time.Hour); err == nil {
			t.Errorf("Issue(%q) succeeded", bad)
		}
	}
	if _, _, err := ca.Issue(hosts, 0); err == nil {
		t.Error("Issue with zero validity succeeded")
	}
	if _, err := NewCA("", time.Hour); err == nil {
		t.Error("NewCA with an empty name succeeded")
	}
	if _, err := NewCA("x", -time.Hour); err == nil {
		t.Error("NewCA with a negative validity succeeded")
	}
}

// TestWriteFiles: the key is 0600, the certificate 0644, an existing pair is replaced
// and no temporary file is left behind.
func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	aCert, aKey, err := ca.Issue([]string{"a.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bCert, bKey, err := ca.Issue([]string{"b.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := WriteFiles(dir, aCert, aKey); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := WriteFiles(dir, bCert, bKey)
	if err != nil {
		t.Fatal(err)
	}
	if certFile != filepath.Join(dir, "tls.crt") || keyFile != filepath.Join(dir, "tls.key") {
		t.Fatalf("files %s, %s", certFile, keyFile)
	}
	for name, want := range map[string]os.FileMode{certFile: 0o644, keyFile: 0o600} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	for name, want := range map[string][]byte{certFile: bCert, keyFile: bKey} {
		if got, _ := os.ReadFile(name); !bytes.Equal(got, want) {
			t.Errorf("%s was not replaced", name)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("dir holds %v, want tls.crt and tls.key only", names)
	}
	if _, _, err := WriteFiles(filepath.Join(dir, "missing"), aCert, aKey); err == nil {
		t.Error("WriteFiles into a missing directory succeeded")
	}
}
