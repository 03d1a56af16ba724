package tlsterm

import (
	"crypto/tls"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure New.
type Options struct {
	CertFile string // PEM: the server certificate first, then its intermediates
	KeyFile  string // PEM: the private key (PKCS#1, SEC 1 or PKCS#8), unencrypted
	// CertSetting and KeySetting name the files' settings in errors and logs
	// ("-tls-cert-file", say); the package's CertSetting and KeySetting when empty.
	CertSetting string
	KeySetting  string
	// Logger receives load warnings and reload outcomes; slog.Default() when nil.
	Logger *slog.Logger
}

// Store holds the certificate a TLS listener serves; make one with New or NewStore.
// The current pair sits in an atomic pointer: GetCertificate, called on every
// handshake, takes no lock, and a reload swaps the pair for connections that start
// after it while established ones keep theirs.
type Store struct {
	files
	log *slog.Logger

	cur atomic.Pointer[served]

	mu      sync.Mutex // serialises loads (Reload, Watch); guards what follows
	seen    [2]stamp   // the files' identity taken before the last load attempt
	reloads int
	lastErr string
}

// served is one loaded pair.
type served struct {
	cert *tls.Certificate
	info Info // without Reloads and LastError, which are the Store's
}

// NewStore loads certFile and keyFile, naming them CertSetting and KeySetting in
// errors. See New.
func NewStore(certFile, keyFile string, log *slog.Logger) (*Store, error) {
	return New(Options{CertFile: certFile, KeyFile: keyFile, Logger: log})
}

// New loads the pair named by o. A pair that does not load is an error, one line that
// names the setting and file at fault (a *SettingError): a TLS listener must not start
// without a certificate. A certificate that loads but is expired, not valid yet, a CA
// or without SANs is served and logged as a warning: nginx serves it too, and the
// listener stays up for the renewed file to be reloaded.
func New(o Options) (*Store, error) {
	s := &Store{
		files: files{certFile: o.CertFile, keyFile: o.KeyFile, certSetting: o.CertSetting, keySetting: o.KeySetting},
		log:   o.Logger,
	}
	if s.certSetting == "" {
		s.certSetting = CertSetting
	}
	if s.keySetting == "" {
		s.keySetting = KeySetting
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.seen = s.stamps()
	p, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(p)
	s.log.Info("TLS certificate loaded", p.logAttrs()...)
	warnLeaf(s.log, s.certSetting, s.certFile, p.cert.Leaf, p.info.LoadedAt)
	return s, nil
}

// load reads the pair; it does not install it.
func (s *Store) load() (*served, error) {
	cert, err := s.readPair()
	if err != nil {
		return nil, err
	}
	p := &served{cert: cert, info: leafInfo(cert.Leaf)}
	p.info.LoadedAt = time.Now()
	p.info.CertFile, p.info.KeyFile = s.certFile, s.keyFile
	return p, nil
}

func (p *served) logAttrs() []any {
	return []any{"subject", p.info.Subject, "dns_names", p.info.DNSNames, "ip_addresses", p.info.IPAddresses,
		"serial", p.info.Serial, "not_after", p.info.NotAfter.UTC().Format(time.RFC3339)}
}

// GetCertificate returns the current certificate, whatever the client asked for: the
// store holds one pair. It is tls.Config.GetCertificate.
func (s *Store) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load().cert, nil
}

// Reload re-reads both files. On success the new pair serves every later handshake; on
// any error the current pair keeps serving, one warning line is logged and the error
// is returned: a pair caught half-replaced (the new certificate, the old key) must
// never take the listener down. Safe to call concurrently with Watch and serving.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(s.stamps(), true)
}

// reloadLocked loads the pair whose identity st was taken before reading. A failure
// repeating the last one is logged only if logRepeat: Watch retries a failed reload
// on every poll and must not log the same line each time.
func (s *Store) reloadLocked(st [2]stamp, logRepeat bool) error {
	s.seen = st
	p, err := s.load()
	if err != nil {
		msg := err.Error()
		if logRepeat || msg != s.lastErr {
			s.log.Warn("TLS reload failed; serving the previous certificate", "err", msg,
				"serial", s.cur.Load().info.Serial)
		}
		s.lastErr = msg
		return err
	}
	s.cur.Store(p)
	s.reloads++
	s.lastErr = ""
	s.log.Info("TLS certificate reloaded", p.logAttrs()...)
	warnLeaf(s.log, s.certSetting, s.certFile, p.cert.Leaf, p.info.LoadedAt)
	return nil
}

// Info describes the certificate being served and the reload history.
func (s *Store) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := s.cur.Load().info
	info.DNSNames = append([]string{}, info.DNSNames...)
	info.IPAddresses = append([]string{}, info.IPAddresses...)
	info.Reloads = s.reloads
	info.LastError = s.lastErr
	return info
}
