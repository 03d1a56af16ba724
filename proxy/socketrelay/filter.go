package socketrelay

import (
	"net/http"
	"path"
	"strings"
)

// Reasons a request is refused, as the log line gives them.
const (
	reasonNoURL     = "no request URL"
	reasonEncoded   = "percent-encoded path"
	reasonUnclean   = "path is not clean"
	reasonNotListed = "not in the allow-list"
	reasonUpgrade   = "connection upgrade requested"
	reasonBody      = "request has a body"
)

// refusal is why r must not reach the engine, or "" when it may. The checks run in this
// order so that the reason names the first thing wrong with the request as written.
//
// The path checks exist because the engine routes on the decoded, cleaned path: without
// them "/services/../containers/json" or "/services%2F..%2Fcontainers" could be allowed by
// its prefix and served as something else. Refusing anything that is not already in its
// one canonical form means the string matched is the string the engine routes.
func refusal(r *http.Request) string {
	if r.URL == nil {
		return reasonNoURL
	}
	// RawPath is set whenever the path was sent with an escape that its decoded form would
	// not need: %2F, but also a needless %61. None of the allowed paths has any.
	if r.URL.RawPath != "" || strings.Contains(r.URL.Path, "%") {
		return reasonEncoded
	}
	p := r.URL.Path
	if p == "" || p[0] != '/' || path.Clean(p) != p {
		return reasonUnclean
	}
	if !allowed(r.Method, p) {
		return reasonNotListed
	}
	// An upgraded connection (docker attach, exec) is a raw byte stream the relay could
	// not look into; no allowed call needs one.
	if len(r.Header.Values("Upgrade")) > 0 || hasToken(r.Header.Values("Connection"), "upgrade") {
		return reasonUpgrade
	}
	// No allowed call has a body; a GET with one is either a smuggling attempt or a client
	// the relay does not know, and the engine would be the one to decide what it means.
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 || len(r.Header.Values("Transfer-Encoding")) > 0 {
		return reasonBody
	}
	return ""
}

// hasToken reports whether any comma-separated element of values is token, ignoring case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
