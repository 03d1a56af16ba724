package proxy

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The forward spec: what the proxy does to every request and response it passes on,
// whichever engine carries them. The nethttp engine applies it through
// httputil.ReverseProxy's Rewrite (newMember); the epoll engine writes heads itself
// (h1.go) from the same lists, and the comparison tests hold the two to the same bytes.

// reqDropped are the request headers the proxy does not pass on (besides those the
// client listed in Connection): hop-by-hop ones, the ones it writes itself (Host,
// Color, X-Forwarded-*) and Forwarded, which ReverseProxy's Rewrite mode drops.
var reqDropped = []string{"Host", "Color", "Connection", "Proxy-Connection", "Keep-Alive",
	"Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// respDropped are the response headers the proxy does not pass on: hop-by-hop ones
// (RFC 9110 §7.6.1) and the framing it writes itself. Trailer stays: trailers pass
// through with the chunked body, so their announcement must too.
var respDropped = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Transfer-Encoding", "Upgrade"}

// refuse is the forward spec's local answers for requests no backend should see:
// a tunnel (CONNECT: this is a reverse proxy), an HTTP/2 preface on the HTTP/1 port,
// a body declared larger than MAX_BODY. It returns 0 for a request to forward.
func (p *Proxy) refuse(r *http.Request) (int, string) {
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

// joinTargetURI is httputil.ProxyRequest.SetURL's path and query rewrite for a target
// with a base path or query: the request's path under the target's, queries merged.
func joinTargetURI(target *url.URL, requestURI string) string {
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
