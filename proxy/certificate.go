package proxy

import (
	"github.com/archwayhq/archway/proxy/tlsterm"
)

// SetCertificates makes /status ("tls") and /metrics (archway_tls_*) show the
// certificate the data listener serves from s: its subject, names and expiry, so that
// an operator (or an alert) sees a rotation and a certificate about to expire.
func (p *Proxy) SetCertificates(s *tlsterm.Store) { p.certs.Store(s) }

// certInfo is the served certificate's description, nil without TLS.
func (p *Proxy) certInfo() *tlsterm.Info {
	s := p.certs.Load()
	if s == nil {
		return nil
	}
	info := s.Info()
	return &info
}
