package tlsterm

import "fmt"

// Setting names used in errors by NewStore; New takes others (flag names, say) through
// Options, the way the proxy's configuration errors name where a value came from.
const (
	CertSetting = "TLS_CERT_FILE"
	KeySetting  = "TLS_KEY_FILE"
)

// SettingError is a certificate or key that did not load. Its text is one line that
// names the setting and its value first, `TLS_CERT_FILE="/run/secrets/crt": open: no
// such file or directory`, so that a start-up failure or a reload warning says which
// file to look at without a second line; Unwrap gives the cause (errors.Is(err,
// fs.ErrNotExist) works).
type SettingError struct {
	Setting string // CertSetting, KeySetting or the caller's names for them
	Value   string // the file name as configured
	Err     error
}

func (e *SettingError) Error() string { return fmt.Sprintf("%s=%q: %v", e.Setting, e.Value, e.Err) }

// Unwrap returns the cause.
func (e *SettingError) Unwrap() error { return e.Err }
