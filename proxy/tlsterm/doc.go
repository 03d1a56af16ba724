// Package tlsterm is archway-proxy's TLS termination kit, independent of the proxy
// core and of its engines:
//
//   - Store holds the served certificate and key (PEM files), swaps them atomically
//     on Reload or when Watch sees the files change, and keeps the old pair whenever
//     the new one does not load, so a half-replaced pair never breaks serving;
//   - CA issues throwaway certificates for demos and tests, without network, and
//     WriteFiles writes a pair atomically.
//
// Standard library only: no ACME, no fsnotify.
package tlsterm
