package tlsterm

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestNewStoreErrors: every pair that cannot serve fails NewStore with one line that
// names the setting, the file and what is wrong with it.
func TestNewStoreErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	a, b := issue(t, ca, "a.test"), issue(t, ca, "b.test")
	aCert := writeFile(t, dir, "a.crt", a.cert)
	aKey := writeFile(t, dir, "a.key", a.key)
	bKey := writeFile(t, dir, "b.key", b.key)
	missing := filepath.Join(dir, "missing.pem")
	empty := writeFile(t, dir, "empty.pem", nil)
	blank := writeFile(t, dir, "blank.pem", []byte("\n  \t\n"))
	text := writeFile(t, dir, "text.pem", []byte("this is not PEM\n"))
	// CA first, then the leaf: the key matches certificate 2.
	reversed := writeFile(t, dir, "reversed.crt", append(ca.CertPEM(), a.cert...))

	garbage := []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	_, certErr := x509.ParseCertificate(garbage)
	badCert := writeFile(t, dir, "bad.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: garbage}))
	_, pkcs8Err := x509.ParsePKCS8PrivateKey(garbage)
	badKey := writeFile(t, dir, "bad.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: garbage}))
	encPKCS8 := writeFile(t, dir, "enc8.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: garbage}))
	encLegacy := writeFile(t, dir, "enclegacy.key", pem.EncodeToMemory(&pem.Block{
		Type:    "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   garbage,
	}))
	dsa := writeFile(t, dir, "dsa.key", pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: garbage}))
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	xDER, err := x509.MarshalPKCS8PrivateKey(x)
	if err != nil {
		t.Fatal(err)
	}
	x25519 := writeFile(t, dir, "x25519.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: xDER}))
	huge := writeFile(t, dir, "huge.pem", bytes.Repeat([]byte("A"), maxPEMFile+1))

	q := func(s string) string { return fmt.Sprintf("%q", s) }
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"cert not set", "", aKey, `TLS_CERT_FILE="": not set; TLS needs both TLS_CERT_FILE and TLS_KEY_FILE`},
		{"key not set", aCert, "", `TLS_KEY_FILE="": not set; TLS needs both TLS_CERT_FILE and TLS_KEY_FILE`},
		{"cert missing", missing, aKey, `TLS_CERT_FILE=` + q(missing) + `: no such file or directory`},
		{"key missing", aCert, missing, `TLS_KEY_FILE=` + q(missing) + `: no such file or directory`},
		{"cert is a directory", dir, aKey, `TLS_CERT_FILE=` + q(dir) + `: is a directory, not a file`},
		{"cert not a regular file", os.DevNull, aKey, `TLS_CERT_FILE=` + q(os.DevNull) + `: not a regular file`},
		{"cert empty", empty, aKey, `TLS_CERT_FILE=` + q(empty) + `: file is empty`},
		{"cert blank", blank, aKey, `TLS_CERT_FILE=` + q(blank) + `: file is empty`},
		{"key empty", aCert, empty, `TLS_KEY_FILE=` + q(empty) + `: file is empty`},
		{"cert too large", huge, aKey, `TLS_CERT_FILE=` + q(huge) + `: larger than 1 MiB`},
		{"cert not PEM", text, aKey, `TLS_CERT_FILE=` + q(text) + `: no PEM certificate in file`},
		{"cert file holds the key", aKey, aCert, `TLS_CERT_FILE=` + q(aKey) + `: no PEM certificate in file (it holds "PRIVATE KEY")`},
		{"key not PEM", aCert, text, `TLS_KEY_FILE=` + q(text) + `: no PEM private key in file`},
		{"key file holds the cert", aCert, aCert, `TLS_KEY_FILE=` + q(aCert) + `: no PEM private key in file (it holds "CERTIFICATE")`},
		{"cert malformed", badCert, aKey, `TLS_CERT_FILE=` + q(badCert) + `: certificate 1 in file: ` + certErr.Error()},
		{"key malformed", aCert, badKey, `TLS_KEY_FILE=` + q(badKey) + `: malformed PRIVATE KEY: ` + pkcs8Err.Error()},
		{"key of another certificate", aCert, bKey, `TLS_KEY_FILE=` + q(bKey) + `: key does not match the certificate in TLS_CERT_FILE=` + q(aCert)},
		{"chain CA first", reversed, aKey, `TLS_KEY_FILE=` + q(aKey) + `: key does not match the first certificate in TLS_CERT_FILE=` + q(reversed) +
			` but certificate 2; the server certificate must come first`},
		{"key encrypted PKCS#8", aCert, encPKCS8, `TLS_KEY_FILE=` + q(encPKCS8) + `: private key is encrypted; give an unencrypted key (openssl pkey -in encrypted.key -out plain.key)`},
		{"key encrypted legacy", aCert, encLegacy, `TLS_KEY_FILE=` + q(encLegacy) + `: private key is encrypted; give an unencrypted key (openssl pkey -in encrypted.key -out plain.key)`},
		{"key DSA", aCert, dsa, `TLS_KEY_FILE=` + q(dsa) + `: unsupported private key type "DSA PRIVATE KEY"; give an RSA, ECDSA or Ed25519 key`},
		{"key X25519", aCert, x25519, `TLS_KEY_FILE=` + q(x25519) + `: unsupported private key algorithm *ecdh.PrivateKey; give an RSA, ECDSA or Ed25519 key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStore(tc.cert, tc.key, quietLogger())
			if err == nil {
				t.Fatalf("NewStore(%q, %q) = %v, nil; want error %s", tc.cert, tc.key, s, tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Fatalf("error\n got: %s\nwant: %s", got, tc.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			var se *SettingError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SettingError", err)
			}
		})
	}
}

// TestSettingErrorUnwraps: a file error names the setting and the file once and still
// unwraps to its cause.
func TestSettingErrorUnwraps(t *testing.T) {
	_, err := NewStore("/nonexistent/tls.crt", "/nonexistent/tls.key", quietLogger())
	if want := `TLS_CERT_FILE="/nonexistent/tls.crt": no such file or directory`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

// TestNewStoreSettingNames: a caller configured by flags names the flags.
func TestNewStoreSettingNames(t *testing.T) {
	dir := t.TempDir()
	a := issue(t, newTestCA(t), "a.test")
	certFile := writeFile(t, dir, "a.crt", a.cert)
	_, err := New(Options{CertFile: certFile, KeyFile: "", CertSetting: "-tls-cert-file", KeySetting: "-tls-key-file", Logger: quietLogger()})
	if want := `-tls-key-file="": not set; TLS needs both -tls-cert-file and -tls-key-file`; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	b := issue(t, newTestCA(t), "b.test")
	bKey := writeFile(t, dir, "b.key", b.key)
	_, err = New(Options{CertFile: certFile, KeyFile: bKey, CertSetting: "-tls-cert-file", KeySetting: "-tls-key-file", Logger: quietLogger()})
	if want := fmt.Sprintf(`-tls-key-file=%q: key does not match the certificate in -tls-cert-file=%q`, bKey, certFile); err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

// TestNewStoreInfo: Info describes the loaded certificate as openssl would.
func TestNewStoreInfo(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	a := issue(t, ca, "a.test", "*.a.test", "127.0.0.1", "::1")
	certFile, keyFile := writePair(t, dir, a)
	before := time.Now()
	s, err := NewStore(certFile, keyFile, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	info := s.Info()
	b, _ := pem.Decode(a.cert)
	leaf, _ := x509.ParseCertificate(b.Bytes)
	sum := sha256.Sum256(b.Bytes)
	fp := strings.ToUpper(hex.EncodeToString(sum[:]))
	var colons []string
	for i := 0; i < len(fp); i += 2 {
		colons = append(colons, fp[i:i+2])
	}
	want := Info{
		Subject:     "CN=a.test",
		Issuer:      "CN=archway test CA",
		DNSNames:    []string{"a.test", "*.a.test"},
		IPAddresses: []string{"127.0.0.1", "::1"},
		NotBefore:   leaf.NotBefore,
		NotAfter:    leaf.NotAfter,
		Serial:      a.serial,
		SHA256:      strings.Join(colons, ":"),
		LoadedAt:    info.LoadedAt,
		CertFile:    certFile,
		KeyFile:     keyFile,
	}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("Info\n got: %+v\nwant: %+v", info, want)
	}
	if info.LoadedAt.Before(before) || info.LoadedAt.After(time.Now()) {
		t.Fatalf("LoadedAt %v is not the time of NewStore", info.LoadedAt)
	}
	if len(info.Serial)%2 != 0 || strings.ToUpper(info.Serial) != info.Serial {
		t.Fatalf("serial %q is not openssl's even-length upper-case hex", info.Serial)
	}
	if c, _ := s.GetCertificate(nil); !bytes.Equal(c.Certificate[0], b.Bytes) || c.Leaf == nil {
		t.Fatal("GetCertificate does not return the loaded certificate with its Leaf")
	}

	// The JSON field names /status shows.
	raw, _ := json.Marshal(info)
	var fields map[string]any
	_ = json.Unmarshal(raw, &fields)
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	wantNames := []string{"cert_file", "dns_names", "ip_addresses", "issuer", "key_file", "last_error", "loaded_at",
		"not_after", "not_before", "reloads", "serial", "sha256", "subject"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("JSON fields %v, want %v", names, wantNames)
	}

	// Info is a copy: editing it does not change the store's.
	info.DNSNames[0] = "changed"
	if s.Info().DNSNames[0] != "a.test" {
		t.Fatal("Info shares its slices with the store")
	}
}

// TestNewStoreKeyFormats: the encodings and file layouts that tools write all load.
func TestNewStoreKeyFormats(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	a := issue(t, ca, "a.test")
	// openssl ecparam -genkey writes the parameters before the key.
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}})

	for _, tc := range []struct {
		name      string
		cert, key []byte
		sameFile  bool
	}{
		{"RSA PKCS#1", signLeaf(t, ca, &rsaKey.PublicKey, "rsa.test"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), false},
		{"RSA PKCS#8 labelled PKCS#1", signLeaf(t, ca, &rsaKey.PublicKey, "rsa.test"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: rsaPKCS8}), false},
		{"ECDSA SEC 1 after EC PARAMETERS", signLeaf(t, ca, &ecKey.PublicKey, "ec.test"), append(ecParams, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...), false},
		{"Ed25519 PKCS#8", signLeaf(t, ca, edPub, "ed.test"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}), false},
		{"ECDSA PKCS#8 with chain", append(append([]byte{}, a.cert...), ca.CertPEM()...), a.key, false},
		{"one file for both", append(append([]byte{}, a.cert...), a.key...), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certFile := writeFile(t, dir, "c.pem", tc.cert)
			keyFile := certFile
			if !tc.sameFile {
				keyFile = writeFile(t, dir, "k.pem", tc.key)
			}
			s, err := NewStore(certFile, keyFile, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			c, _ := s.GetCertificate(nil)
			var blocks int
			for rest := tc.cert; ; blocks++ {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil || b.Type != "CERTIFICATE" {
					break
				}
			}
			if len(c.Certificate) != blocks {
				t.Fatalf("served chain has %d certificates, the file %d", len(c.Certificate), blocks)
			}
		})
	}
}

// TestNewStoreWarnings: a certificate that is expired, not valid yet, a CA or without
// SANs is served (nginx serves it too) and logged as a warning.
func TestNewStoreWarnings(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	now := time.Now()
	expCert, expKey, err := ca.issue([]string{"old.test"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	futCert, futKey, err := ca.issue([]string{"new.test"}, now.Add(24*time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	noSANKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	noSANDER, err := x509.MarshalPKCS8PrivateKey(noSANKey)
	if err != nil {
		t.Fatal(err)
	}
	noSAN := signLeaf(t, ca, &noSANKey.PublicKey, "cn-only.test")
	// signLeaf puts the hosts in DNSNames; strip them by re-signing without.
	{
		b, _ := pem.Decode(noSAN)
		c, _ := x509.ParseCertificate(b.Bytes)
		c.DNSNames = nil
		der, err := x509.CreateCertificate(rand.Reader, c, ca.cert, &noSANKey.PublicKey, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		noSAN = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	for _, tc := range []struct {
		name, want string
		cert, key  []byte
	}{
		{"expired", `level=WARN msg="TLS certificate expired; serving it anyway" setting=TLS_CERT_FILE`, expCert, expKey},
		{"not valid yet", `level=WARN msg="TLS certificate not valid yet; serving it anyway" setting=TLS_CERT_FILE`, futCert, futKey},
		{"CA", `level=WARN msg="TLS certificate is a CA certificate, not a server certificate"`, ca.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKey})},
		{"no SANs", `level=WARN msg="TLS certificate has no subject alternative names; clients will not match any host name"`, noSAN, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: noSANDER})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logRecorder
			certFile, keyFile := writePair(t, dir, leaf{cert: tc.cert, key: tc.key})
			s, err := NewStore(certFile, keyFile, logs.logger())
			if err != nil {
				t.Fatalf("NewStore: %v (a certificate that loads must be served)", err)
			}
			if c, _ := s.GetCertificate(nil); c == nil {
				t.Fatal("no certificate served")
			}
			if got := logs.matching(tc.want); len(got) != 1 {
				t.Fatalf("want one line containing %s, logs:\n%s", tc.want, &logs)
			}
			if got := logs.matching("level=WARN"); len(got) != 1 {
				t.Fatalf("want exactly one warning, logs:\n%s", &logs)
			}
		})
	}

	// A good certificate: one info line, no warning.
	var logs logRecorder
	certFile, keyFile := writePair(t, dir, issue(t, ca, "ok.test"))
	if _, err := NewStore(certFile, keyFile, logs.logger()); err != nil {
		t.Fatal(err)
	}
	if len(logs.matching("level=WARN")) != 0 || len(logs.matching(`level=INFO msg="TLS certificate loaded"`, `subject="CN=ok.test"`, "dns_names=[ok.test]")) != 1 {
		t.Fatalf("want one info line and no warning, logs:\n%s", &logs)
	}
}
