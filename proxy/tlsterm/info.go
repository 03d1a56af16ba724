package tlsterm

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// Info describes the certificate a Store serves, for the admin /status. Serial and
// SHA256 are written as openssl prints them (`openssl x509 -noout -serial -fingerprint
// -sha256`: upper-case hex, the fingerprint colon-separated), so that an operator can
// compare the served certificate with a file by eye.
type Info struct {
	Subject     string    `json:"subject"` // RFC 2253, "CN=example.com,O=Example"
	Issuer      string    `json:"issuer"`
	DNSNames    []string  `json:"dns_names"`
	IPAddresses []string  `json:"ip_addresses"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	Serial      string    `json:"serial"`
	SHA256      string    `json:"sha256"` // of the server certificate's DER
	// LoadedAt is when the served pair was read (start or the last successful reload).
	LoadedAt time.Time `json:"loaded_at"`
	// Reloads counts successful reloads since start; the first load is not one.
	Reloads int `json:"reloads"`
	// LastError is the last reload failure while the served pair is older than it;
	// empty when the last load succeeded.
	LastError string `json:"last_error"`
	CertFile  string `json:"cert_file"`
	KeyFile   string `json:"key_file"`
}

// leafInfo is the part of Info that comes from the certificate itself. Slices are
// never nil, so that /status shows [] rather than null.
func leafInfo(c *x509.Certificate) Info {
	ips := make([]string, len(c.IPAddresses))
	for i, ip := range c.IPAddresses {
		ips[i] = ip.String()
	}
	return Info{
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		DNSNames:    append([]string{}, c.DNSNames...),
		IPAddresses: ips,
		NotBefore:   c.NotBefore,
		NotAfter:    c.NotAfter,
		Serial:      serialHex(c),
		SHA256:      fingerprint(c.Raw),
	}
}

// serialHex is the serial as openssl prints it: upper-case hex, an even number of digits.
func serialHex(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	s := fmt.Sprintf("%X", c.SerialNumber)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
