package tlsterm

import "crypto/tls"

// ServerConfig is the data plane's tls.Config, Mozilla's "intermediate" profile
// (https://ssl-config.mozilla.org/): every browser and client of the last decade, no
// known-weak option.
//
//   - MinVersion TLS 1.2: TLS 1.0 and 1.1 are deprecated (RFC 8996) and browsers
//     removed them; TLS 1.3 is on, with Go's fixed set of AEAD suites.
//   - For TLS 1.2, ECDHE key exchange only (forward secrecy; no RSA key exchange, which
//     has none and was the Bleichenbacher/ROBOT target) with AES-GCM or
//     ChaCha20-Poly1305 (AEAD; no CBC, with its padding-oracle and Lucky13 history, no
//     3DES/Sweet32, no RC4). Listed for ECDSA and RSA certificates alike. Go picks
//     the order (PreferServerCipherSuites has no effect): AES-GCM where
//     the hardware has AES instructions, ChaCha20 where the client has none.
//     Mozilla's DHE suites are absent: crypto/tls does not implement them.
//   - Key exchanges: Go's defaults (X25519 and the NIST curves, and from Go 1.24/1.26
//     the post-quantum hybrids X25519MLKEM768 and SecP256r1MLKEM768), left unset so
//     that they follow Go releases.
//   - NextProtos h2 then http/1.1: HTTP/2 negotiated by ALPN for clients that offer
//     it. A server that cannot speak HTTP/2 on these connections must set NextProtos
//     to []string{"http/1.1"}; http.Server serves h2 when it is offered.
//   - Certificates empty and GetCertificate the store's: crypto/tls consults
//     GetCertificate only without Certificates or when the client sent SNI, and
//     clients that dial an IP address send none.
//
// Session tickets stay on with Go's automatic key rotation: a resumed session does
// not re-send the certificate, so after a reload a client that resumes keeps the old
// one until it makes a full handshake.
func ServerConfig(s *Store) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: s.GetCertificate,
	}
}
