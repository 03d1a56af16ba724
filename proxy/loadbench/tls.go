package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/archwayhq/archway/proxy/tlsterm"
)

// tlsFiles is the one certificate every front end serves under -tls: a leaf for
// 127.0.0.1 from a throwaway CA made for the run, as PEM files in the run's temp dir.
type tlsFiles struct {
	certFile, keyFile string // the leaf and its key: nginx and archway-proxy
	combinedFile      string // the leaf then its key in one file: HAProxy's crt
	// transport trusts the run's CA and speaks HTTP/1.1 only, as wrk does: the
	// readiness waits and the split checks go through it.
	transport *http.Transport
}

// combinedFileName is HAProxy's certificate-and-key file in the TLS dir.
const combinedFileName = "haproxy.pem"

// newTLSFiles makes a CA and a certificate for 127.0.0.1 (ECDSA P-256, valid a day)
// and writes the pair into dir (created 0700) as tlsterm.WriteFiles does, plus the
// combined file HAProxy reads.
func newTLSFiles(dir string) (*tlsFiles, error) {
	ca, err := tlsterm.NewCA("archway loadbench CA", 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	certPEM, keyPEM, err := ca.Issue([]string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	certFile, keyFile, err := tlsterm.WriteFiles(dir, certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	combined := filepath.Join(dir, combinedFileName)
	if err := os.WriteFile(combined, append(append([]byte(nil), certPEM...), keyPEM...), 0o600); err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		Protocols:           new(http.Protocols),
	}
	tr.Protocols.SetHTTP1(true)
	return &tlsFiles{certFile: certFile, keyFile: keyFile, combinedFile: combined, transport: tr}, nil
}
