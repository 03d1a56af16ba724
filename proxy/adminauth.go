package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// AdminAuth says who may use the admin API. With no token at all the admin API must
// listen on a loopback address (ParseConfig refuses anything else) and answers only
// requests whose Host is a loopback name, so that a web page cannot reach it through
// DNS rebinding from the operator's browser.
type AdminAuth struct {
	// Token grants every admin route (ADMIN_TOKEN_FILE / ADMIN_TOKEN).
	Token string
	// ReadToken grants the read-only routes only — GET /status, /backends, /metrics
	// and the /ui page — e.g. for a Prometheus scraper or a person's browser
	// (ADMIN_READ_TOKEN_FILE / ADMIN_READ_TOKEN). Empty: no read-only token.
	ReadToken string
}

// MinTokenLen is the shortest admin token accepted: 16 random characters are beyond
// guessing over the network; shorter ones are typos or placeholders.
const MinTokenLen = 16

// MaxTokenFile bounds an admin token file: a token is one line, and a huge file (or
// /dev/zero) is a mistake to refuse, not to read.
const MaxTokenFile = 64 << 10

// adminRealm is the WWW-Authenticate challenge of the admin API; basicRealm is added
// on the page a browser opens (/ui), so that it asks for the token.
const (
	adminRealm = `Bearer realm="archway-proxy admin"`
	basicRealm = `Basic realm="archway-proxy admin"`
)

// uiPath is the admin route a person opens in a browser (statuspage.go).
const uiPath = "/ui"

// scope is what a route needs.
type scope int

const (
	scopeOpen  scope = iota // /healthz: liveness, tells nothing
	scopeRead               // GET /status, /backends, /metrics, /ui
	scopeWrite              // every change
)

// routeScope is the one place that says what each admin request needs: reads are
// GET (and HEAD) of anything but /healthz; every other method is a change.
func routeScope(r *http.Request) scope {
	switch {
	case r.URL.Path == "/healthz":
		return scopeOpen
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return scopeRead
	}
	return scopeWrite
}

// authorize wraps the admin router: it answers 401 (no or wrong token), 403 (a
// read-only token on a change, or a non-loopback Host without tokens) before any
// route runs, so that a refused request changes nothing.
func (a AdminAuth) authorize(log interface {
	Warn(string, ...any)
}, next http.Handler) http.Handler {
	token, read := digest(a.Token), digest(a.ReadToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// refuse answers code with msg (and challenge as WWW-Authenticate, if any) and
		// logs the one line every refusal gets.
		refuse := func(code int, reason, challenge, msg string) {
			if challenge != "" {
				w.Header().Set("WWW-Authenticate", challenge)
			}
			if code == http.StatusUnauthorized && r.URL.Path == uiPath {
				// A browser cannot send a bearer token, but asks for Basic credentials.
				w.Header().Add("WWW-Authenticate", basicRealm)
			}
			log.Warn("admin request refused", "reason", reason, "host", r.Host, "route", r.Method+" "+r.URL.Path, "client", r.RemoteAddr)
			adminError(w, code, msg)
		}
		need := routeScope(r)
		switch {
		case need == scopeOpen:
		case a.Token == "" && a.ReadToken == "":
			if !loopbackHost(r.Host) {
				refuse(http.StatusForbidden, "non-loopback Host without a token", "",
					fmt.Sprintf("Host %q: the admin API without a token answers only localhost (set ADMIN_TOKEN_FILE to reach it by another name)", r.Host))
				return
			}
		default:
			given, ok := credentials(r.Header.Get("Authorization"))
			if !ok {
				refuse(http.StatusUnauthorized, "no token", adminRealm,
					"missing token: send Authorization: Bearer <token> (ADMIN_TOKEN_FILE), or Basic with the token as the password")
				return
			}
			g := digest(given)
			// Both comparisons always run, on fixed-length digests: the time taken
			// says nothing about either token.
			isWrite := a.Token != "" && subtle.ConstantTimeCompare(g[:], token[:]) == 1
			isRead := a.ReadToken != "" && subtle.ConstantTimeCompare(g[:], read[:]) == 1
			switch {
			case !isWrite && !isRead:
				refuse(http.StatusUnauthorized, "wrong token", adminRealm+`, error="invalid_token"`, "wrong token")
				return
			case need == scopeWrite && !isWrite:
				refuse(http.StatusForbidden, "read-only token on a change", adminRealm+`, error="insufficient_scope"`,
					"the read-only token (ADMIN_READ_TOKEN_FILE) cannot change anything; use ADMIN_TOKEN_FILE's token")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func digest(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// credentials extracts the token an Authorization header presents: "Bearer <token>"
// (RFC 6750), or "Basic" (RFC 7617) with the token as the password and any user name,
// which is all a browser opening /ui can send. Schemes are case-insensitive. ok is
// false when the header presents neither; Basic credentials that do not decode present
// "", which matches no token.
//
// A browser then sends the credentials with every request to the admin origin, also
// ones another site's page makes it send. That grants such a page nothing: every change
// is a PUT or DELETE, which a cross-site page can only send after a CORS preflight the
// admin API never approves, and the answers to its GETs are not readable to it.
func credentials(h string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	rest = strings.TrimSpace(rest)
	switch {
	case !ok || rest == "":
		return "", false
	case strings.EqualFold(scheme, "Bearer"):
		return rest, true
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", true
		}
		_, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", true
		}
		return password, true
	}
	return "", false
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface: localhost, 127.0.0.0/8 or ::1, with or without a port.
func loopbackHost(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// loopbackAddr reports whether a listen address (host:port) binds loopback only. An
// empty host, 0.0.0.0, :: or a name other than localhost bind more (or may).
func loopbackAddr(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil || h == "" {
		return false
	}
	return loopbackHost(h)
}
