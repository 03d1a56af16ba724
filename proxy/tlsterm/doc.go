// Package tlsterm is archway-proxy's TLS termination kit, independent of the proxy
// core and of its engines:
//
//   - CA issues throwaway certificates for demos and tests, without network, and
//     WriteFiles writes a pair atomically.
//
// Standard library only: no ACME, no fsnotify.
package tlsterm
