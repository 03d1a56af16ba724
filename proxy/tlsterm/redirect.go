package tlsterm

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// RedirectHandler answers every request of a plain-HTTP listener with 308 Permanent
// Redirect to the same host and request URI over HTTPS on httpsPort (omitted when
// 443). 308 rather than 301: clients repeat the method and body, so a POST stays a
// POST (Caddy does the same). The Host header's port, if any, is dropped: it is the
// plain listener's.
//
// The Host header is the only input that chooses where the client is sent, so it is
// checked, not copied: a host name (letters, digits, '-', '_', dots) that does not end
// in a number, a dotted-quad IPv4 or a bracketed IPv6 literal without zone, and an
// optional numeric port. Anything else (missing, '/', '@', '\', spaces, control or
// non-ASCII characters, "1.2.3" or "0x7f000001" that browsers read as another IPv4
// form) is answered 400 with a one-line reason and no Location.
//
// httpsPort outside 1..65535 panics: it is the caller's configuration, not a request.
func RedirectHandler(httpsPort int) http.Handler {
	if httpsPort < 1 || httpsPort > 65535 {
		panic(fmt.Sprintf("tlsterm.RedirectHandler: HTTPS port %d outside 1..65535", httpsPort))
	}
	port := ""
	if httpsPort != 443 {
		port = ":" + strconv.Itoa(httpsPort)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, err := redirectHost(r.Host)
		if err != nil {
			http.Error(w, "cannot redirect to HTTPS: the Host header "+err.Error(), http.StatusBadRequest)
			return
		}
		// RequestURI re-encodes the parsed target: path and query only, even for an
		// absolute-form request ("GET http://host/x"), whose host net/http put in r.Host.
		uri := r.URL.RequestURI()
		if r.Method == http.MethodConnect || !strings.HasPrefix(uri, "/") {
			http.Error(w, "cannot redirect to HTTPS: the request target is not a path", http.StatusBadRequest)
			return
		}
		target := "https://" + host + port + uri
		h := w.Header()
		h.Set("Location", target)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusPermanentRedirect)
		_, _ = io.WriteString(w, "Redirecting to "+target+"\n")
	})
}

// redirectHost returns the host of a Host header without its port, or why it is not
// one a redirect may point at, worded to follow "the Host header".
func redirectHost(hostport string) (string, error) {
	if hostport == "" {
		return "", errors.New("is missing")
	}
	if len(hostport) > 260 { // 253 for the name, ":" and 5 digits
		return "", errors.New("is too long")
	}
	for i := 0; i < len(hostport); i++ {
		if c := hostport[i]; c <= ' ' || c >= 0x7f {
			return "", errors.New("has a space, control or non-ASCII character")
		}
	}
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", errors.New("has '[' without ']'")
		}
		if rest := hostport[end+1:]; rest != "" {
			if rest[0] != ':' {
				return "", errors.New("has characters after ']'")
			}
			if err := checkPort(rest[1:]); err != nil {
				return "", err
			}
		}
		addr, err := netip.ParseAddr(hostport[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", errors.New("has an invalid IPv6 address")
		}
		return "[" + addr.String() + "]", nil
	}
	host := hostport
	if i := strings.IndexByte(hostport, ':'); i >= 0 {
		host = hostport[:i]
		if strings.Contains(hostport[i+1:], ":") {
			return "", errors.New("has more than one ':' (an IPv6 address needs brackets)")
		}
		if err := checkPort(hostport[i+1:]); err != nil {
			return "", err
		}
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.Is4() {
		return host, nil
	}
	if err := checkHostname(host); err != nil {
		return "", err
	}
	return host, nil
}

// checkPort accepts an empty port (RFC 3986 allows "host:") or 1..65535.
func checkPort(p string) error {
	if p == "" {
		return nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || len(p) > 5 || n < 1 || n > 65535 || p[0] == '+' || p[0] == '-' {
		return errors.New("has an invalid port")
	}
	return nil
}

// checkHostname accepts dot-separated labels of letters, digits, '-' and '_' (Docker
// and Compose names have underscores), each 1..63 long and not starting or ending
// with '-', 253 in all, with an optional final dot. The last label must not be a
// number: browsers (the WHATWG URL parser) read such a name as an IPv4 address in
// another notation ("127.1", "0x7f000001"), which is not the host the name looks like.
func checkHostname(h string) error {
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return errors.New("has no host name")
	}
	if len(h) > 253 {
		return errors.New("has a name longer than 253 characters")
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" {
			return errors.New("has an empty label")
		}
		if len(l) > 63 {
			return errors.New("has a label longer than 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("has a label starting or ending with '-'")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("has %q, not allowed in a host name", c)
			}
		}
	}
	if isNumber(labels[len(labels)-1]) {
		return errors.New("ends in a number but is not a dotted-quad IPv4 address")
	}
	return nil
}

// isNumber is the WHATWG URL parser's "ends in a number" test for a label: decimal
// digits, or 0x/0X followed by hex digits (possibly none).
func isNumber(l string) bool {
	if len(l) >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X') {
		for i := 2; i < len(l); i++ {
			if c := l[i] | 0x20; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}
