// Package tlsterm is archway-proxy's TLS termination kit, independent of the proxy
// core and of its engines:
//
//   - Store holds the served certificate and key (PEM files), swaps them atomically
//     on Reload or when Watch sees the files change, and keeps the old pair whenever
//     the new one does not load, so a half-replaced pair never breaks serving;
//   - ServerConfig is the tls.Config for the data plane (Mozilla "intermediate":
//     TLS 1.2+, ECDHE with AEAD suites only, HTTP/2 by ALPN) taking its certificate
//     from a Store;
//   - RedirectHandler answers an optional plain-HTTP listener with 308 redirects to
//     the HTTPS one, for Host headers that name a host and nothing else;
//   - CA issues throwaway certificates for demos and tests, without network, and
//     WriteFiles writes a pair atomically.
//
// Standard library only: no ACME, no fsnotify.
package tlsterm
