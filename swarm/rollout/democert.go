package rollout

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/archwayhq/archway/proxy/tlsterm"
)

// Names of the demo's TLS secrets (swarm/stack.tls.yml; TLS_CERT_SECRET and
// TLS_KEY_SECRET rename them).
const (
	TLSCertSecret = "archway_tls_cert"
	TLSKeySecret  = "archway_tls_key"
)

// DemoCert is the demo's certificate: a CA made here (no network) and a server
// certificate it issued for the cluster's addresses, as files under one directory.
type DemoCert struct {
	Dir                       string
	CAFile, CertFile, KeyFile string
	// Created: the files were made now (so existing secrets cannot hold them).
	Created bool
}

// EnsureDemoCert returns the certificate files in dir, creating a CA and a
// certificate for hosts (valid a year) when there are none. Existing files that do
// not cover every host (a lab re-created on other addresses) are an error saying so.
func EnsureDemoCert(dir string, hosts []string) (DemoCert, error) {
	dc := DemoCert{Dir: dir, CAFile: filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, tlsterm.CertFileName), KeyFile: filepath.Join(dir, tlsterm.KeyFileName)}
	store, err := tlsterm.NewStore(dc.CertFile, dc.KeyFile, nil)
	switch {
	case err == nil:
		info := store.Info()
		for _, h := range hosts {
			names := info.DNSNames
			if net.ParseIP(h) != nil {
				names = info.IPAddresses
			}
			if !slices.Contains(names, h) {
				return dc, fmt.Errorf("demo certificate %s does not name %s (it names %v %v): remove %s and the secrets %s, %s to make a new one", dc.CertFile, h, info.DNSNames, info.IPAddresses, dir, TLSCertSecret, TLSKeySecret)
			}
		}
		return dc, nil
	case !errors.Is(err, fs.ErrNotExist):
		return dc, fmt.Errorf("demo certificate: %w", err)
	}
	ca, err := tlsterm.NewCA("archway demo CA", 2*365*24*time.Hour)
	if err != nil {
		return dc, err
	}
	crt, key, err := ca.Issue(hosts, 365*24*time.Hour)
	if err != nil {
		return dc, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dc, fmt.Errorf("demo certificate: %w", err)
	}
	if err := os.WriteFile(dc.CAFile, ca.CertPEM(), 0o644); err != nil {
		return dc, fmt.Errorf("demo certificate: %w", err)
	}
	if _, _, err := tlsterm.WriteFiles(dir, crt, key); err != nil {
		return dc, fmt.Errorf("demo certificate: %w", err)
	}
	dc.Created = true
	return dc, nil
}
