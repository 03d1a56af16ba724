package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/archwayhq/archway/internal/server"
)

// The fasthttp engine (ENGINE=fasthttp) serves the proxy listener with valyala/fasthttp
// and forwards with one fasthttp.HostClient per member. It exists for CPU: net/http's
// server and Transport hand every request between goroutines and allocate fresh
// request and header objects (loadbench/FINDINGS.md), while fasthttp reads, forwards
// and answers in the connection's own goroutine with reused objects. Selection, health,
// retries, stickiness and statistics are the same code as the nethttp engine's. What it
// does not do: protocol upgrades (WebSocket gets 501), HTTP/2, trailers.

// Limits of the fasthttp engine, documented in the README.
const (
	// fastReadTimeout bounds reading a whole request (head and body) and a whole
	// backend response: fasthttp has no separate header timeout.
	fastReadTimeout = 60 * time.Second
	// fastIdleTimeout matches the nethttp server's keep-alive idle timeout.
	fastIdleTimeout = 90 * time.Second
	// fastBufferSize is the per-connection read buffer, which is also the largest
	// request or response head accepted (nginx's large_client_header_buffers is 8k).
	fastBufferSize = 16 << 10
	// fastMaxConns caps connections per backend member; requests beyond it wait up
	// to fastConnWait for one to free up.
	fastMaxConns = 4096
	fastConnWait = 5 * time.Second
)

// hopHeaders are connection-scoped (RFC 9110 §7.6.1) and dropped in both directions,
// as httputil.ReverseProxy does. Transfer-Encoding and Content-Length are left to
// fasthttp, which re-frames every message it writes. Expect is dropped too: the
// fasthttp server has already answered the client's 100-continue before the handler
// runs, and HostClient writes the body without waiting for a backend's 100, so a
// forwarded Expect only tells a backend that rejects the request (Go's net/http among
// them) to close at once instead of reading the body: the upload then hits a reset.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Upgrade", "Expect"}

// newHostClient returns m's backend client: pooled keep-alive connections (counted
// per address for /status like NewTransport's), no User-Agent of its own, the path
// sent as received, and response bodies streamed rather than buffered.
func (p *Proxy) newHostClient(m *member) *fasthttp.HostClient {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	dial := p.dialCounting(d.DialContext)
	return &fasthttp.HostClient{
		Addr:                     m.dialAddr,
		IsTLS:                    m.target.Scheme == "https",
		Dial:                     func(addr string) (net.Conn, error) { return dial(context.Background(), "tcp", addr) },
		MaxConns:                 fastMaxConns,
		MaxConnWaitTimeout:       fastConnWait,
		MaxIdleConnDuration:      fastIdleTimeout,
		ReadTimeout:              fastReadTimeout,
		ReadBufferSize:           fastBufferSize,
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
		StreamResponseBody:       true,
		// Most recently used connection first: under load a few hot connections serve
		// everything and the rest time out, instead of every pooled connection taking
		// turns (FIFO). Measured in loadbench: about 7% less CPU per request.
		ConnPoolStrategy: fasthttp.LIFO,
		// One more attempt on the same member only for a keep-alive connection the
		// backend closed while it sat idle (nothing was processed); connect failures
		// and 502s go to another member (retry.go), other errors are not retried.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(req *fasthttp.Request, _ int, err error) (bool, bool) {
			return false, fastRetryable(req) && (errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF))
		},
	}
}

// FastServer returns the fasthttp engine's server for the proxy listener, with
// /healthz and /readyz answered locally as in Handler. Serve uses it when the engine
// is fasthttp; it fits internal/server's drain and shutdown.
func (p *Proxy) FastServer(ready *server.Readiness) server.Engine {
	s := &fasthttp.Server{
		Handler:                      p.fastHandler(ready),
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		NoDefaultDate:                true,
		DisablePreParseMultipartForm: true,
		StreamRequestBody:            true,
		ReadTimeout:                  fastReadTimeout,
		IdleTimeout:                  fastIdleTimeout,
		ReadBufferSize:               fastBufferSize,
		CloseOnShutdown:              true,
		// fasthttp reports every broken client connection; those are not the
		// operator's problem, so they go to debug.
		Logger: fastLogger{p.log},
	}
	return fastServer{s}
}

// fastServer adapts fasthttp.Server to server.Engine.
type fastServer struct{ s *fasthttp.Server }

func (f fastServer) Serve(ln net.Listener) error { return f.s.Serve(ln) }

func (f fastServer) Shutdown(ctx context.Context) error { return f.s.ShutdownWithContext(ctx) }

// Close is a no-op: fasthttp cannot cut busy connections; after a Shutdown that timed
// out the process is exiting anyway.
func (f fastServer) Close() error { return nil }

type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "server", "proxy", "engine", EngineFastHTTP)
}

// fastRequest adapts fasthttp's request header to selectionInput.
type fastRequest fasthttp.RequestHeader

func (r *fastRequest) header(name string) string {
	return string((*fasthttp.RequestHeader)(r).Peek(name))
}

func (r *fastRequest) cookie(name string) string {
	return string((*fasthttp.RequestHeader)(r).Cookie(name))
}

// fastScratch keeps what a retry needs of the client's request once the first attempt
// rewrote it, and builds X-Forwarded-For. Pooled: one per request in flight.
type fastScratch struct{ uri, host, xff []byte }

var fastScratchPool = sync.Pool{New: func() any { return new(fastScratch) }}

func (p *Proxy) fastHandler(ready *server.Readiness) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/healthz":
			p.fastLocal(ctx, http.StatusOK, "ok\n")
			return
		case "/readyz":
			if err := ready.Err(); err != nil {
				p.fastLocal(ctx, http.StatusServiceUnavailable, err.Error()+"\n")
			} else {
				p.fastLocal(ctx, http.StatusOK, "ok\n")
			}
			return
		}
		p.serveFast(ctx)
	}
}

// serveFast is ServeHTTP for the fasthttp engine.
func (p *Proxy) serveFast(ctx *fasthttp.RequestCtx) {
	p.stats.requests.Add(1)
	req := &ctx.Request
	if len(req.Header.Peek("Upgrade")) > 0 {
		p.fastLocal(ctx, http.StatusNotImplemented, "archway-proxy: protocol upgrades need ENGINE=nethttp\n")
		return
	}
	s := p.snap.Load()
	var m *member
	var pinned bool
	if s != nil {
		m, pinned = p.choose(s, (*fastRequest)(&req.Header))
	}
	if m == nil {
		p.stats.noBackend.Add(1)
		p.fastLocal(ctx, http.StatusServiceUnavailable, msgNoBackend)
		ctx.Response.Header.Set("Retry-After", "1")
		return
	}

	clientClose := req.Header.ConnectionClose()
	sc := fastScratchPool.Get().(*fastScratch)
	sc.uri = append(sc.uri[:0], req.Header.RequestURI()...)
	sc.host = append(sc.host[:0], req.Header.Host()...)
	p.prepareFast(ctx, sc)

	retry := fastRetryable(req)
	again := p.forwardFast(ctx, m, sc, retry)
	if again {
		if next := s.pickOther(m); next == nil {
			p.log.Debug("no other member to retry on", "color", m.colour, "member", m.url())
			p.fastBadGateway(ctx, nil)
		} else {
			p.stats.retries.Add(1)
			p.forwardFast(ctx, next, sc, false)
			m = next
		}
	}
	fastScratchPool.Put(sc)

	h := &ctx.Response.Header
	removeHopHeaders(h)
	// The backend's Connection: close concerns the backend connection only (the
	// HostClient already decided on it); the client's own close is honoured.
	h.ResetConnectionClose()
	if clientClose {
		ctx.SetConnectionClose()
	}
	h.Set("X-Proxy", p.opts.Hostname)
	if p.opts.StickyCookie != "" && !pinned {
		h.Add("Set-Cookie", p.stickyCookie(m, ctx.IsTLS()))
	}
}

// prepareFast applies the member-independent part of the rewrite: hop-by-hop headers
// out (including those the client listed in Connection), X-Forwarded-* in, as
// httputil.ProxyRequest.SetXForwarded does after Rewrite strips the client's.
func (p *Proxy) prepareFast(ctx *fasthttp.RequestCtx, sc *fastScratch) {
	h := &ctx.Request.Header
	removeHopHeaders(h, forwardedHeaders...)
	h.ResetConnectionClose()
	// The client's chain, then its address, as httputil's SetXForwarded does.
	sc.xff = sc.xff[:0]
	priors := h.PeekAll("X-Forwarded-For")
	for _, prior := range priors {
		sc.xff = append(append(sc.xff, prior...), ", "...)
	}
	if len(priors) > 1 {
		delStable(h, []string{"X-Forwarded-For"}) // one joined line replaces them
	}
	sc.xff = appendClientIP(sc.xff, ctx.RemoteAddr())
	h.SetBytesV("X-Forwarded-For", sc.xff)
	h.SetBytesV("X-Forwarded-Host", sc.host)
	if ctx.IsTLS() {
		h.Set("X-Forwarded-Proto", "https")
	} else {
		h.Set("X-Forwarded-Proto", "http")
	}
}

// forwardFast sends the request to m once and records statistics and passive health.
// It reports whether the caller should retry on another member (allowed only when
// retry is true and the member could not be reached or answered 502); otherwise
// ctx.Response holds what the client gets.
func (p *Proxy) forwardFast(ctx *fasthttp.RequestCtx, m *member, sc *fastScratch, retry bool) bool {
	req := &ctx.Request
	// The member-specific part of the rewrite: target URL and Host, and Color set
	// after the hop-by-hop removal so that "Connection: Color" cannot strip it.
	if t := m.target; (t.Path == "" || t.Path == "/") && t.RawQuery == "" {
		req.SetRequestURIBytes(sc.uri)
	} else {
		req.SetRequestURI(joinTargetURI(t, string(sc.uri)))
	}
	req.URI().SetScheme(m.target.Scheme)
	req.UseHostHeader = true
	if p.opts.PreserveHost {
		req.Header.SetHostBytes(sc.host)
	} else {
		req.Header.SetHost(m.target.Host)
	}
	req.Header.Set("Color", m.colour)

	m.stats.inflight.Add(1)
	start := time.Now()
	if retry {
		// retry is only set on a first attempt, which starts with the request: fasthttp
		// read the clock for it already.
		start = ctx.Time()
	}
	err := m.fast.Do(req, &ctx.Response)
	d := time.Since(start)
	m.stats.inflight.Add(-1)

	status := ctx.Response.StatusCode()
	if err != nil {
		status = http.StatusBadGateway
	}
	again := retry && (err != nil && isRetryableErr(err) || err == nil && status == http.StatusBadGateway)
	m.stats.record(status, d)
	if err != nil || status == http.StatusBadGateway {
		p.passiveFailure(m)
	} else {
		p.passiveSuccess(m)
	}
	switch {
	case again:
		// Let go of the 502's body (and its backend connection) before the retry.
		_ = ctx.Response.CloseBodyStream()
		ctx.Response.Reset()
	case err != nil:
		p.log.Debug("backend error", "host", m.dialAddr, "err", err.Error())
		p.fastBadGateway(ctx, err)
	}
	return again
}

// fastLocal answers from the proxy itself.
func (p *Proxy) fastLocal(ctx *fasthttp.RequestCtx, code int, body string) {
	ctx.Response.Reset()
	ctx.SetStatusCode(code)
	h := &ctx.Response.Header
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Proxy", p.opts.Hostname)
	ctx.SetBodyString(body)
}

// fastBadGateway is writeBadGateway for the fasthttp engine.
func (p *Proxy) fastBadGateway(ctx *fasthttp.RequestCtx, err error) {
	code, msg := gatewayAnswer(err)
	p.fastLocal(ctx, code, msg)
}

// fastRetryable is retryable (retry.go) for a fasthttp request.
// Upgrades never get here: serveFast answers them 501.
func fastRetryable(req *fasthttp.Request) bool {
	if !idempotent(string(req.Header.Method())) {
		return false
	}
	// fasthttp's -2 is "neither Content-Length nor chunked": a request without a body.
	cl := req.Header.ContentLength()
	return (cl == 0 || cl == -2) && !req.IsBodyStream()
}

// fastHeader is what removeHopHeaders needs of fasthttp's request and response headers.
type fastHeader interface {
	All() iter.Seq2[[]byte, []byte]
	Del(key string)
	AddBytesV(key string, value []byte)
}

// forwardedHeaders are the client's proxy headers, which ReverseProxy's Rewrite mode
// drops before SetXForwarded writes its own: a client cannot forge them past the proxy.
var forwardedHeaders = []string{"Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto"}

// removeHopHeaders drops hopHeaders, every header named in Connection, and also. One
// pass over the headers finds them: usually there are none, and Del scans every time.
// The pass runs a pooled, pre-bound yield function: a closure literal here would escape
// through the interface and cost three allocations per call on the hot path.
func removeHopHeaders(h fastHeader, also ...string) {
	sc := hopScanPool.Get().(*hopScan)
	sc.also = also
	h.All()(sc.yield)
	if len(sc.drop) > 0 {
		delStable(h, sc.drop)
	}
	clear(sc.drop)
	*sc = hopScan{drop: sc.drop[:0], yield: sc.yield}
	hopScanPool.Put(sc)
}

// delStable deletes the named headers and keeps the order of repeated ones: fasthttp's
// Del swaps the last header into the hole, which can reverse, say, two X-Forwarded-For
// or Cache-Control lines, whose order matters. Rare (only when there is something to
// drop), so it may allocate.
func delStable(h fastHeader, names []string) {
	var order []string
	values := map[string][][]byte{}
	for k, v := range h.All() {
		name := string(k)
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
			continue
		}
		if _, seen := values[name]; !seen {
			order = append(order, name)
		}
		values[name] = append(values[name], bytes.Clone(v))
	}
	// Cookie and Set-Cookie live outside the list Del reorders.
	repeated := slices.DeleteFunc(order, func(name string) bool {
		return len(values[name]) < 2 || strings.EqualFold(name, "Cookie") || strings.EqualFold(name, "Set-Cookie")
	})
	// Every Del first, then the re-adds: a Del after an Add could reorder it again.
	for _, n := range names {
		h.Del(n)
	}
	for _, name := range repeated {
		h.Del(name)
	}
	for _, name := range repeated {
		for _, v := range values[name] {
			h.AddBytesV(name, v)
		}
	}
}

// hopScan collects the names removeHopHeaders deletes.
type hopScan struct {
	drop  []string
	also  []string
	yield func(k, v []byte) bool
}

var hopScanPool = sync.Pool{New: func() any {
	sc := &hopScan{}
	sc.yield = sc.visit
	return sc
}}

func (sc *hopScan) visit(k, v []byte) bool {
	if !isHopHeader(k) {
		if slices.ContainsFunc(sc.also, func(a string) bool { return equalFoldString(k, a) }) {
			sc.drop = append(sc.drop, string(k))
		}
		return true
	}
	sc.drop = append(sc.drop, string(k))
	if equalFoldString(k, "Connection") {
		for tok := range bytes.SplitSeq(v, []byte{','}) {
			if tok = bytes.TrimSpace(tok); len(tok) > 0 {
				sc.drop = append(sc.drop, string(tok))
			}
		}
	}
	return true
}

func isHopHeader(k []byte) bool {
	for _, hk := range hopHeaders {
		if equalFoldString(k, hk) {
			return true
		}
	}
	return false
}

// equalFoldString is bytes.EqualFold against a string, without converting it.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// appendClientIP appends the address for X-Forwarded-For without allocating.
func appendClientIP(dst []byte, a net.Addr) []byte {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap().AppendTo(dst)
		}
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return append(dst, a.String()...)
	}
	return append(dst, host...)
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
