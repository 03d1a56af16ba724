package tlsterm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/archwayhq/archway/internal/smallfile"
)

// maxPEMFile bounds what a load reads: a certificate chain is a few kilobytes, and a
// setting pointing at /dev/zero or a log file must fail at once, not eat memory.
const maxPEMFile = 1 << 20

// files names a certificate and a key file and the settings they came from.
type files struct {
	certFile, keyFile       string
	certSetting, keySetting string
}

// readPair reads and checks the pair. Every error is a *SettingError naming the file at
// fault; tls.X509KeyPair is not used because its errors name neither file nor setting
// ("tls: failed to find any PEM data in key input").
func (f files) readPair() (*tls.Certificate, error) {
	if f.certFile == "" {
		return nil, &SettingError{f.certSetting, "", fmt.Errorf("not set; TLS needs both %s and %s", f.certSetting, f.keySetting)}
	}
	if f.keyFile == "" {
		return nil, &SettingError{f.keySetting, "", fmt.Errorf("not set; TLS needs both %s and %s", f.certSetting, f.keySetting)}
	}
	certPEM, err := readPEMFile(f.certFile)
	if err != nil {
		return nil, &SettingError{f.certSetting, f.certFile, err}
	}
	keyPEM, err := readPEMFile(f.keyFile)
	if err != nil {
		return nil, &SettingError{f.keySetting, f.keyFile, err}
	}
	chain, err := parseChain(certPEM)
	if err != nil {
		return nil, &SettingError{f.certSetting, f.certFile, err}
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, &SettingError{f.keySetting, f.keyFile, err}
	}
	if !keyMatches(chain[0], key) {
		err := fmt.Errorf("key does not match the certificate in %s=%q", f.certSetting, f.certFile)
		for i, c := range chain[1:] {
			if keyMatches(c, key) {
				// A chain written CA first: say so rather than "does not match".
				err = fmt.Errorf("key does not match the first certificate in %s=%q but certificate %d; the server certificate must come first",
					f.certSetting, f.certFile, i+2)
				break
			}
		}
		return nil, &SettingError{f.keySetting, f.keyFile, err}
	}
	cert := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// readPEMFile reads a whole small regular file.
func readPEMFile(name string) ([]byte, error) {
	b, err := smallfile.Read(name, maxPEMFile)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("file is empty")
	}
	return b, nil
}

// parseChain returns the CERTIFICATE blocks of a PEM file, parsed, in file order (the
// server certificate first). Other blocks are skipped, so that one file holding both
// the chain and the key can serve as both settings.
func parseChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	var found []string
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			found = appendNew(found, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d in file: %v", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("no PEM certificate in file" + foundBlocks(found))
	}
	return chain, nil
}

// parseKey returns the first private key block of a PEM file, skipping other blocks
// (EC PARAMETERS before an EC key, a certificate in a combined file).
func parseKey(data []byte) (crypto.Signer, error) {
	var found []string
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "PRIVATE KEY" && !strings.HasSuffix(b.Type, " PRIVATE KEY") {
			found = appendNew(found, b.Type)
			continue
		}
		// Both forms of passphrase protection: PKCS#8 "ENCRYPTED PRIVATE KEY" and the
		// legacy OpenSSL "Proc-Type: 4,ENCRYPTED" header. Nothing here could ask for the
		// passphrase, so the message says what to do instead.
		if b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errors.New("private key is encrypted; give an unencrypted key (openssl pkey -in encrypted.key -out plain.key)")
		}
		return parseKeyBlock(b)
	}
	return nil, errors.New("no PEM private key in file" + foundBlocks(found))
}

// keyParsers are the private key encodings crypto/tls reads, by PEM label.
var keyParsers = []struct {
	label string
	parse func([]byte) (any, error)
}{
	{"RSA PRIVATE KEY", func(d []byte) (any, error) { return x509.ParsePKCS1PrivateKey(d) }},
	{"EC PRIVATE KEY", func(d []byte) (any, error) { return x509.ParseECPrivateKey(d) }},
	{"PRIVATE KEY", x509.ParsePKCS8PrivateKey},
}

// parseKeyBlock parses by the block's label, then tries the other encodings as
// crypto/tls does, since some tools label a PKCS#8 key "RSA PRIVATE KEY".
func parseKeyBlock(b *pem.Block) (crypto.Signer, error) {
	var k any
	err := fmt.Errorf("unsupported private key type %q; give an RSA, ECDSA or Ed25519 key", b.Type)
	known := false
	for _, p := range keyParsers {
		if p.label == b.Type {
			known = true
			if k, err = p.parse(b.Bytes); err != nil {
				err = fmt.Errorf("malformed %s: %v", b.Type, err)
			}
		}
	}
	if !known {
		return nil, err
	}
	for _, p := range keyParsers {
		if err == nil {
			break
		}
		if p.label != b.Type {
			if k2, err2 := p.parse(b.Bytes); err2 == nil {
				k, err = k2, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported private key algorithm %T; give an RSA, ECDSA or Ed25519 key", k)
	}
}

// keyMatches reports whether key is the private half of c's public key.
func keyMatches(c *x509.Certificate, key crypto.Signer) bool {
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}

func appendNew(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// foundBlocks says what a file held instead, which catches swapped settings.
func foundBlocks(types []string) string {
	if len(types) == 0 {
		return ""
	}
	q := make([]string, len(types))
	for i, t := range types {
		q[i] = fmt.Sprintf("%q", t)
	}
	return " (it holds " + strings.Join(q, ", ") + ")"
}
