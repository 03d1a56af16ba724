package main

import (
	"fmt"
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
	return &tlsFiles{certFile: certFile, keyFile: keyFile, combinedFile: combined}, nil
}
