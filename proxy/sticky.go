package proxy

import (
	"net/http"
	"strings"
)

// choose picks the member for r. With -override-header, a request naming an available
// colour goes there (testers); else with -sticky-cookie, a client pinned to an available
// colour stays there; else SWRR. A drained (weight 0), unhealthy or unknown colour falls
// back to normal selection. pinned reports whether the cookie already names m's colour.
func (p *Proxy) choose(s *snapshot, r *http.Request) (m *member, pinned bool) {
	if p.override != "" {
		if v := r.Header[p.override]; len(v) > 0 {
			if c := s.byName[strings.ToLower(strings.TrimSpace(v[0]))]; c != nil && c.available() {
				if m := c.pickMember(); m != nil {
					return m, p.opts.StickyCookie != "" && cookieValue(r, p.opts.StickyCookie) == c.header
				}
			}
		}
	}
	if p.opts.StickyCookie != "" {
		if v := cookieValue(r, p.opts.StickyCookie); v != "" {
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
	c := &http.Cookie{
		Name: p.opts.StickyCookie, Value: m.colour, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	}
	w.Header().Add("Set-Cookie", c.String())
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return strings.ToLower(c.Value)
}
