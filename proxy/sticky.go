package proxy

import (
	"net/http"
	"strings"
)

// SelectionInput is what Pick reads from a request, whichever engine parsed it.
type SelectionInput interface {
	// Header returns the first value of the canonical header name, "" when absent.
	Header(name string) string
	// Cookie returns the value of the named cookie, "" when absent.
	Cookie(name string) string
}

// Pick chooses the member for a new request, nil when none is available. With
// -override-header, a request naming a colour with a healthy member goes there, even
// at weight 0 — that is how a release is smoke-tested on the idle colour before any
// user reaches it (a preview, as Argo Rollouts' preview service); else
// with -sticky-cookie, a client pinned to an available colour stays there; else SWRR.
// An unhealthy or unknown colour falls back to normal selection, as does a drained
// (weight 0) colour named by a sticky cookie.
// pinned reports whether the request's cookie already names m's colour.
func (p *Proxy) Pick(r SelectionInput) (m *Member, pinned bool) {
	s := p.snap.Load()
	if s == nil {
		return nil, false
	}
	return p.choose(s, r)
}

func (p *Proxy) choose(s *snapshot, r SelectionInput) (m *Member, pinned bool) {
	if p.override != "" {
		if v := r.Header(p.override); v != "" {
			if c := s.byName[strings.ToLower(strings.TrimSpace(v))]; c != nil && c.healthy() {
				if m := c.pickMember(); m != nil {
					return m, p.opts.StickyCookie != "" && strings.ToLower(r.Cookie(p.opts.StickyCookie)) == c.header
				}
			}
		}
	}
	if p.opts.StickyCookie != "" {
		if v := strings.ToLower(r.Cookie(p.opts.StickyCookie)); v != "" {
			if c := s.byName[v]; c != nil && c.available() {
				if m := c.pickMember(); m != nil {
					return m, true
				}
			}
		}
	}
	return s.pick(), false
}

// StickyCookie is the Set-Cookie value pinning a client to m's colour, "" when
// stickiness is off or the client is pinned already.
func (p *Proxy) StickyCookie(m *Member, pinned, secure bool) string {
	if p.opts.StickyCookie == "" || pinned {
		return ""
	}
	c := &http.Cookie{
		Name: p.opts.StickyCookie, Value: m.colour, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure,
	}
	return c.String()
}
