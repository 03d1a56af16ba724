package tlsterm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// clockSkew backdates NotBefore: a certificate issued on one machine and served at
// once by a container on another with a clock a little behind must already be valid.
const clockSkew = 5 * time.Minute

// CA is a throwaway certificate authority for demos and tests: it issues server
// certificates offline, in memory. Its key never leaves the process; trust it in
// clients with Pool or CertPEM.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewCA creates a self-signed CA (ECDSA P-256, CA:TRUE with path length 0: it signs
// leaves only) valid from now for validFor.
func NewCA(commonName string, validFor time.Duration) (*CA, error) {
	if commonName == "" {
		return nil, errors.New("tlsterm.NewCA: empty common name")
	}
	if validFor <= 0 {
		return nil, fmt.Errorf("tlsterm.NewCA: validity %v is not positive", validFor)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// CertPEM is the CA certificate, PEM-encoded, for a client's trust store
// (curl --cacert, SSL_CERT_FILE).
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.pem...) }

// Pool is a certificate pool holding only the CA, for tls.Config.RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Issue creates a server certificate for hosts (DNS names, "*.example.com" wildcards
// or IP addresses, each a SAN; the first is also the subject's common name) valid from
// now for validFor, with a fresh ECDSA P-256 key. It returns the certificate (PEM,
// the leaf alone: clients hold the CA) and the key (PEM, PKCS#8 "PRIVATE KEY").
func (ca *CA) Issue(hosts []string, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	if validFor <= 0 {
		return nil, nil, fmt.Errorf("tlsterm.CA.Issue: validity %v is not positive", validFor)
	}
	now := time.Now()
	return ca.issue(hosts, now.Add(-clockSkew), now.Add(validFor))
}

// issue is Issue with explicit validity, which tests use for expired and future
// certificates.
func (ca *CA) issue(hosts []string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("tlsterm.CA.Issue: no hosts")
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		if h == "" || strings.ContainsAny(h, ":/@[] \t\r\n") {
			return nil, nil, fmt.Errorf("tlsterm.CA.Issue: host %q is neither a DNS name nor an IP address", h)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	if len(tmpl.Subject.CommonName) > 64 { // the X.509 upper bound; the SAN carries it in full
		tmpl.Subject.CommonName = ""
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}

// randomSerial is a positive 128-bit random serial (RFC 5280 allows up to 20 octets
// and CAs use at least 64 random bits, so that serials never collide).
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}
