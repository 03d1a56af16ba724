package proxy

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

// The forward spec: what the proxy does to every request and response it passes on,
// whichever engine carries them — which headers go, which the proxy sets (Color, exactly
// one, set last; X-Forwarded-For appended to; X-Forwarded-Host/Proto; Host), how paths
// join, which requests may be replayed, what is answered locally. The nethttp engine
// applies it through httputil.ReverseProxy's Rewrite (Rewrite below); the epoll engine
// writes heads itself (proxy/epoll/h1.go) from the same lists, and the comparison tests
// hold the two to the same bytes.

// RequestDropped are the request headers the proxy does not pass on (besides those the
// client listed in Connection): hop-by-hop ones, the ones it writes itself (Host,
// Color, X-Forwarded-*) and Forwarded, which ReverseProxy's Rewrite mode drops.
var RequestDropped = []string{"Host", "Color", "Connection", "Proxy-Connection", "Keep-Alive",
	"Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// ResponseDropped are the response headers the proxy does not pass on: hop-by-hop ones
// (RFC 9110 §7.6.1) and the framing it writes itself. Trailer stays: trailers pass
// through with the chunked body, so their announcement must too.
var ResponseDropped = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Transfer-Encoding", "Upgrade"}

// Refuse is the forward spec's local answers for requests no backend should see:
// a tunnel (CONNECT: this is a reverse proxy), an HTTP/2 preface on the HTTP/1 port,
// a body declared larger than MAX_BODY. It returns 0 for a request to forward.
func (p *Proxy) Refuse(r *http.Request) (int, string) {
	switch {
	case r.Method == http.MethodConnect:
		return http.StatusMethodNotAllowed, "archway-proxy: CONNECT is not served (a reverse proxy, not a tunnel)\n"
	case r.Method == "PRI" && r.ProtoMajor == 2:
		return http.StatusHTTPVersionNotSupported, "archway-proxy: HTTP/2 without TLS is not served on this port\n"
	case p.opts.MaxBody > 0 && r.ContentLength > p.opts.MaxBody:
		return http.StatusRequestEntityTooLarge, "archway-proxy: request body larger than " + strconv.FormatInt(p.opts.MaxBody, 10) + " bytes\n"
	}
	return 0, ""
}

// JoinTargetURI is httputil.ProxyRequest.SetURL's path and query rewrite for a target
// with a base path or query: the request's path under the target's, queries merged.
func JoinTargetURI(target *url.URL, requestURI string) string {
	path, query, hasQuery := strings.Cut(requestURI, "?")
	in := &url.URL{Path: path, RawPath: path}
	if u, err := url.ParseRequestURI(path); err == nil {
		in.Path, in.RawPath = u.Path, u.RawPath
	}
	out := &url.URL{ForceQuery: hasQuery} // "/x?" keeps its "?", as with SetURL
	out.Path, out.RawPath = joinURLPath(target, in)
	switch {
	case target.RawQuery == "":
		out.RawQuery = query
	case query == "":
		out.RawQuery = target.RawQuery
	default:
		out.RawQuery = target.RawQuery + "&" + query
	}
	return out.RequestURI()
}

// joinURLPath mirrors net/http/httputil's unexported helper of the same name.
func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath, bpath := a.EscapedPath(), b.EscapedPath()
	aslash, bslash := strings.HasSuffix(apath, "/"), strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash, bslash := strings.HasSuffix(a, "/"), strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}

// Replayable reports whether r may be sent a second time, to another member: an
// idempotent method and no body. The proxy streams bodies instead of buffering them,
// so a request with a body cannot be replayed and is never retried.
func Replayable(r *http.Request) bool {
	if !Idempotent(r.Method) {
		return false
	}
	if r.ContentLength != 0 { // > 0: a body; -1: chunked, length unknown
		return false
	}
	// A protocol upgrade (WebSocket) is not a plain request/response exchange.
	return r.Header.Get("Upgrade") == ""
}

// Idempotent reports whether a method may be sent twice (RFC 9110 §9.2.2).
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// Rewrite is the forward spec for httputil.ReverseProxy's Rewrite hook: target m,
// the client's Host kept with PreserveHost, X-Forwarded-For appended to, X-Forwarded-*
// set, and Color set last — after ReverseProxy removed hop-by-hop headers from Out —
// so that a client's "Connection: Color" cannot strip it (golang/go#50580) and a
// client's own Color is replaced.
func (p *Proxy) Rewrite(m *Member) func(*httputil.ProxyRequest) {
	target, preserve := m.target, p.opts.PreserveHost
	color := []string{m.colour}[:1:1]
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if preserve {
			pr.Out.Host = pr.In.Host
		}
		// Append to the client's chain, as nginx's $proxy_add_x_forwarded_for and the
		// Director-based seeds do; backends that trust it must trust this proxy only.
		if prior, ok := pr.In.Header["X-Forwarded-For"]; ok {
			pr.Out.Header["X-Forwarded-For"] = prior
		}
		pr.SetXForwarded()
		pr.Out.Header["Color"] = color
	}
}
