package tlsterm

import (
	"crypto/x509"
	"log/slog"
	"time"
)

// warnLeaf logs what is wrong with a certificate that still loads. An expired or
// not-yet-valid certificate is served anyway, as nginx does: refusing it would turn
// a renewal that came late into an outage of the whole listener (clients that accept
// it, curl -k or monitoring, keep working) and would force a restart once the renewed
// file arrives, where serving it lets Watch or Reload pick that file up.
func warnLeaf(log *slog.Logger, setting, file string, c *x509.Certificate, now time.Time) {
	switch {
	case now.After(c.NotAfter):
		log.Warn("TLS certificate expired; serving it anyway", "setting", setting, "file", file,
			"not_after", c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		log.Warn("TLS certificate not valid yet; serving it anyway", "setting", setting, "file", file,
			"not_before", c.NotBefore.UTC().Format(time.RFC3339))
	}
	// A CA certificate (TLS_CERT_FILE given the CA, not the leaf) is the diagnosis
	// that explains its missing SANs too. Browsers and Go clients ignore the subject's
	// common name: without SANs no host name can ever match.
	switch {
	case c.IsCA:
		log.Warn("TLS certificate is a CA certificate, not a server certificate", "setting", setting, "file", file,
			"subject", c.Subject.String())
	case len(c.DNSNames) == 0 && len(c.IPAddresses) == 0:
		log.Warn("TLS certificate has no subject alternative names; clients will not match any host name", "setting", setting, "file", file)
	}
}
