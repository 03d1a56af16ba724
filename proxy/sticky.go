package proxy

import (
	"net/http"
	"strings"
)

// selectionInput is what choose reads from a request, whichever engine parsed it.
type selectionInput interface {
	// header returns the first value of the canonical header name, "" when absent.
	header(name string) string
	// cookie returns the value of the named cookie, "" when absent.
	cookie(name string) string
}

// stdRequest adapts *http.Request; a pointer type so that the conversion to
// selectionInput does not allocate.
type stdRequest http.Request

func (r *stdRequest) header(name string) string {
	if v := r.Header[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (r *stdRequest) cookie(name string) string {
	c, err := (*http.Request)(r).Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// choose picks the member for r. With -override-header, a request naming an available
// colour goes there (testers); else with -sticky-cookie, a client pinned to an available
// colour stays there; else SWRR. A drained (weight 0), unhealthy or unknown colour falls
// back to normal selection. pinned reports whether the cookie already names m's colour.
func (p *Proxy) choose(s *snapshot, r selectionInput) (m *member, pinned bool) {
	if p.override != "" {
		if v := r.header(p.override); v != "" {
			if c := s.byName[strings.ToLower(strings.TrimSpace(v))]; c != nil && c.available() {
				if m := c.pickMember(); m != nil {
					return m, p.opts.StickyCookie != "" && strings.ToLower(r.cookie(p.opts.StickyCookie)) == c.header
				}
			}
		}
	}
	if p.opts.StickyCookie != "" {
		if v := strings.ToLower(r.cookie(p.opts.StickyCookie)); v != "" {
			if c := s.byName[v]; c != nil && c.available() {
				if m := c.pickMember(); m != nil {
					return m, true
				}
			}
		}
	}
	return s.pick(), false
}

// setSticky pins the client to m's colour when stickiness is on and it is not pinned yet.
func (p *Proxy) setSticky(w http.ResponseWriter, r *http.Request, m *member, pinned bool) {
	if p.opts.StickyCookie == "" || pinned {
		return
	}
	w.Header().Add("Set-Cookie", p.stickyCookie(m, r.TLS != nil))
}

// stickyCookie is the Set-Cookie value pinning a client to m's colour.
func (p *Proxy) stickyCookie(m *member, secure bool) string {
	c := &http.Cookie{
		Name: p.opts.StickyCookie, Value: m.colour, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure,
	}
	return c.String()
}
