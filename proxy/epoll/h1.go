package epoll

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/archwayhq/archway/proxy"
)

// HTTP/1.1 message heads for the epoll engine (epoll.go), which reads and writes
// bytes itself. The request parser is deliberately narrow: it accepts the common
// request (HTTP/1.1, no body, a clean origin-form target, well-formed header lines)
// and reports anything else as "not fast", which makes the engine hand the connection
// to net/http. So every unusual request — bodies, upgrades, HTTP/1.0, odd targets,
// malformed heads — meets net/http's parser and the nethttp engine's behaviour, and
// this file never has to decide what a strange request means.

// headMax is the largest request or response head the epoll engine reads itself
// (larger request heads go to net/http), and so its read buffer size.
const headMax = 16 << 10

// h1Header is one header line, both spans into the buffer the head was read into.
type h1Header struct{ name, value []byte }

// reqHead is a parsed request head.
type reqHead struct {
	method, uri []byte
	headers     []h1Header
	host        []byte
	connClose   bool     // the client sent Connection: close
	teTrailers  bool     // the client accepts trailers (kept, as ReverseProxy does)
	listed      [][]byte // names the client listed in Connection: dropped
	size        int      // bytes of the head, final CRLF included
}

// errHeadTooLarge: no complete head within the buffer.
var errHeadTooLarge = errors.New("message head too large")

// parseRequestHead parses the request head at the start of b. It returns ok with
// r filled when a complete head was found; neither ok nor fast means more bytes are
// needed; !fast means the request is not for the fast path (see above) and the
// connection should go to net/http, which also covers a head that does not fit max.
func parseRequestHead(b []byte, max int, r *reqHead) (ok, fast bool) {
	*r = reqHead{headers: r.headers[:0], listed: r.listed[:0]}
	// A request line that is not a fast one (HTTP/0.9's "GET /", a preface, a bare
	// LF, which net/http accepts) goes to net/http at once: it must not wait for a
	// head that never comes. So does a head that does not fit max.
	line, rest, complete, bare := nextLine(b)
	switch {
	case !complete:
		return false, len(b) < max
	case bare || !fastRequestLine(line):
		return false, false
	}
	method, line, _ := bytes.Cut(line, sp)
	uri, _, _ := bytes.Cut(line, sp)
	r.method, r.uri = method, uri
	hosts := 0
	for {
		line, rest, complete, bare = nextLine(rest)
		switch {
		case !complete:
			// A CR inside the unfinished line already makes it one net/http reads.
			return false, len(b) < max && !crInside(rest)
		case bare:
			return false, false
		case len(line) == 0:
			r.size = len(b) - len(rest)
			if r.size > max || hosts != 1 || !cleanHost(r.host) {
				return false, false // net/http answers these 400
			}
			return true, true
		}
		name, value, found := bytes.Cut(line, colon)
		if !found || !isToken(name) || !fieldValue(value) {
			return false, false // includes obs-fold, "Name :", a bare CR and control bytes
		}
		value = trimOWS(value)
		switch {
		case equalFoldString(name, "Host"):
			hosts++
			r.host = value
		case equalFoldString(name, "Content-Length"), equalFoldString(name, "Transfer-Encoding"),
			equalFoldString(name, "Upgrade"), equalFoldString(name, "Expect"):
			return false, false // a body, or not a plain exchange
		case equalFoldString(name, "Connection"):
			var opts connOptions
			opts, r.listed = connectionHeader(value, r.listed)
			if opts.upgrade {
				return false, false
			}
			r.connClose = r.connClose || opts.close
		case equalFoldString(name, "Te"):
			for tok := range bytes.SplitSeq(value, comma) {
				if equalFoldString(trimOWS(tok), "trailers") {
					r.teTrailers = true
				}
			}
		}
		r.headers = append(r.headers, h1Header{name, value})
	}
}

// nextLine cuts the first line off b: line without its CRLF, and the rest.
// complete is false while b has no LF; bare reports a line that ends in an LF
// without a CR before it. Lines are found with one IndexByte each: a head is
// scanned once, which is most of what parsing it costs. A CR elsewhere in a line
// is the caller's to refuse (fieldValue and isToken do).
func nextLine(b []byte) (line, rest []byte, complete, bare bool) {
	i := bytes.IndexByte(b, '\n')
	switch {
	case i < 0:
		return nil, b, false, false
	case i == 0 || b[i-1] != '\r':
		return nil, b, true, true
	}
	return b[:i-1], b[i+1:], true, false
}

// crInside reports a CR before the last byte of an unfinished line: whatever
// follows, the line is not one the fast path takes.
func crInside(partial []byte) bool {
	i := bytes.IndexByte(partial, '\r')
	return i >= 0 && i < len(partial)-1
}

// trimOWS drops the optional whitespace (SP, HTAB) around a header value.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// fastRequestLine reports whether line is "METHOD /clean-target HTTP/1.1".
func fastRequestLine(line []byte) bool {
	method, line, ok1 := bytes.Cut(line, sp)
	uri, proto, ok2 := bytes.Cut(line, sp)
	return ok1 && ok2 && isToken(method) && cleanTarget(uri) && string(proto) == "HTTP/1.1"
}

// connOptions are the connection options a Connection header can carry.
type connOptions struct{ close, keepAlive, upgrade bool }

// connectionHeader reads a Connection value: its options, and the header names it
// lists (connection-scoped, to be dropped), appended to listed.
func connectionHeader(value []byte, listed [][]byte) (connOptions, [][]byte) {
	var o connOptions
	for tok := range bytes.SplitSeq(value, comma) {
		tok = trimOWS(tok)
		switch {
		case equalFoldString(tok, "close"):
			o.close = true
		case equalFoldString(tok, "keep-alive"):
			o.keepAlive = true
		case equalFoldString(tok, "upgrade"):
			o.upgrade = true
		case len(tok) > 0:
			listed = append(listed, tok)
		}
	}
	return o, listed
}

var (
	crlf  = []byte("\r\n")
	sp    = []byte(" ")
	colon = []byte(":")
	comma = []byte(",")
	// nameContentLength is listed to drop the backend's Content-Length lines.
	nameContentLength = []byte("Content-Length")
)

// path is the request target without its query.
func (r *reqHead) path() []byte {
	if i := bytes.IndexByte(r.uri, '?'); i >= 0 {
		return r.uri[:i]
	}
	return r.uri
}

// header implements selectionInput (override header, sticky cookie).
func (r *reqHead) Header(name string) string {
	for _, h := range r.headers {
		if equalFoldString(h.name, name) {
			return string(h.value)
		}
	}
	return ""
}

func (r *reqHead) Cookie(name string) string {
	for _, h := range r.headers {
		if !equalFoldString(h.name, "Cookie") {
			continue
		}
		if c, err := http.ParseCookie(string(h.value)); err == nil {
			for _, ck := range c {
				if ck.Name == name {
					return ck.Value
				}
			}
		}
	}
	return ""
}

// appendKept appends the headers of hs that are neither in drop nor in listed (the
// names a Connection header listed).
func appendKept(dst []byte, hs []h1Header, drop []string, listed [][]byte) []byte {
	for _, h := range hs {
		if !namedIn(h.name, drop, listed) {
			dst = appendHeader(dst, h.name, h.value)
		}
	}
	return dst
}

// namedIn reports whether name is one of fixed or listed, ignoring case.
func namedIn(name []byte, fixed []string, listed [][]byte) bool {
	for _, n := range fixed {
		if equalFoldString(name, n) {
			return true
		}
	}
	for _, n := range listed {
		if bytes.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// upstreamHead is what appendUpstream writes besides the client's headers.
type upstreamHead struct {
	uri      []byte // request target for the backend
	host     []byte // Host for the backend (the client's, with PreserveHost)
	hostStr  string // or this (the member's)
	color    string
	clientIP []byte
}

// appendUpstream appends the request head the backend receives, rewritten as the
// nethttp engine's Rewrite does: hop-by-hop and Connection-listed headers out, the
// client's X-Forwarded-For extended with its address, X-Forwarded-Host/Proto from
// this request, Color set last so that nothing the client sent can remove it.
func (r *reqHead) appendUpstream(dst []byte, u *upstreamHead) []byte {
	dst = append(dst, r.method...)
	dst = append(dst, ' ')
	dst = append(dst, u.uri...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, u.host...)
	dst = append(dst, u.hostStr...)
	dst = append(dst, "\r\n"...)
	dst = appendKept(dst, r.headers, proxy.RequestDropped, r.listed)
	dst = append(dst, "X-Forwarded-For: "...)
	for _, h := range r.headers {
		if equalFoldString(h.name, "X-Forwarded-For") {
			dst = append(append(dst, h.value...), ", "...)
		}
	}
	dst = append(dst, u.clientIP...)
	dst = append(dst, "\r\nX-Forwarded-Host: "...)
	dst = append(dst, r.host...)
	dst = append(dst, "\r\nX-Forwarded-Proto: http\r\nColor: "...)
	dst = append(dst, u.color...)
	dst = append(dst, "\r\n"...)
	switch string(r.method) {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		// A body-less request of these methods still says so, as net/http's client
		// does: many servers answer 411 without a length.
		dst = append(dst, "Content-Length: 0\r\n"...)
	}
	if r.teTrailers {
		dst = append(dst, "Te: trailers\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func appendHeader(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// bodyMode is how a response body is delimited (RFC 9112 §6.3).
type bodyMode uint8

const (
	bodyNone    bodyMode = iota // HEAD, 1xx, 204, 304
	bodyLength                  // Content-Length
	bodyChunked                 // Transfer-Encoding ending in chunked
	bodyClose                   // until the backend closes
)

// respHead is a parsed response head.
type respHead struct {
	status  int
	headers []h1Header
	listed  [][]byte
	size    int
	mode    bodyMode
	length  int64
	close   bool // the backend ends the connection after this response
	hasDate bool
	// chunkedToo: the head had Content-Length and chunked; the length is not passed on.
	chunkedToo bool
}

// errBadResponse: the backend's response head could not be parsed.
var errBadResponse = errors.New("malformed response from backend")

// parseResponseHead parses the response head at the start of b for a request with
// method; ok false and err nil means more bytes are needed.
func parseResponseHead(b []byte, max int, head bool, r *respHead) (ok bool, err error) {
	*r = respHead{headers: r.headers[:0], listed: r.listed[:0], length: -1}
	line, rest, complete, bare := nextLine(b)
	switch {
	case !complete:
		return false, moreHead(b, max)
	case bare || bytes.IndexByte(line, '\r') >= 0:
		// A bare CR or LF inside the head: a client could split it elsewhere.
		return false, errBadResponse
	}
	proto, line, ok1 := bytes.Cut(line, sp)
	code, _, _ := bytes.Cut(line, sp)
	if !ok1 || len(code) != 3 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(proto) != 8 {
		return false, errBadResponse
	}
	status := 0
	for _, d := range code {
		if d < '0' || d > '9' {
			return false, errBadResponse
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return false, errBadResponse
	}
	r.status = status
	keepAlive := false
	chunked, te := false, false
	for {
		line, rest, complete, bare = nextLine(rest)
		switch {
		case !complete:
			return false, moreHead(b, max)
		case bare:
			return false, errBadResponse
		}
		if len(line) == 0 {
			r.size = len(b) - len(rest)
			break
		}
		name, value, found := bytes.Cut(line, colon)
		if !found || !isToken(name) || !fieldValue(value) {
			return false, errBadResponse // includes obs-fold, "Name :", a bare CR and control bytes
		}
		value = trimOWS(value)
		switch {
		case equalFoldString(name, "Content-Length"):
			n, ok := contentLength(value)
			if !ok || r.length >= 0 && r.length != n {
				return false, errBadResponse
			}
			r.length = n
		case equalFoldString(name, "Transfer-Encoding"):
			// Only "chunked", as net/http's client accepts: anything else could be
			// framed differently by the next hop.
			if te || !equalFoldString(value, "chunked") {
				return false, errBadResponse
			}
			te, chunked = true, true
		case equalFoldString(name, "Connection"):
			var opts connOptions
			opts, r.listed = connectionHeader(value, r.listed)
			r.close = r.close || opts.close
			keepAlive = keepAlive || opts.keepAlive
		case equalFoldString(name, "Date"):
			r.hasDate = true
		}
		r.headers = append(r.headers, h1Header{name, value})
	}
	if r.length >= 0 {
		// The proxy writes the length itself (appendClient): repeated equal lines
		// become one; with chunked as well (a smuggling vector) chunked wins and no
		// length is passed on, as net/http's client does.
		r.listed = append(r.listed, nameContentLength)
		r.chunkedToo = te
	}
	if proto[7] == '0' && !keepAlive {
		r.close = true
	}
	switch {
	case head || status < 200 || status == http.StatusNoContent || status == http.StatusNotModified:
		r.mode = bodyNone
	case te && chunked:
		r.mode = bodyChunked
	case te:
		r.mode, r.close = bodyClose, true
	case r.length >= 0:
		r.mode = bodyLength
	default:
		r.mode, r.close = bodyClose, true
	}
	return true, nil
}

// moreHead is parseResponseHead's answer to a head not complete in b: wait for
// more bytes, unless b already fills max.
func moreHead(b []byte, max int) error {
	if len(b) >= max {
		return errHeadTooLarge
	}
	return nil
}

// clientResponse is what appendClient writes besides the backend's headers.
type clientResponse struct {
	xproxy    string
	setCookie string // sticky cookie, "" for none
	date      []byte // appended when the backend sent no Date, as net/http does
	chunked   bool   // the body goes to the client chunked
	close     bool   // the proxy closes the client connection after this response
}

// appendClient appends the response head the client receives: the backend's status
// and headers without hop-by-hop ones, X-Proxy and the sticky cookie first (where
// the nethttp engine puts them), framing for the body as the proxy sends it.
func (r *respHead) appendClient(dst []byte, c *clientResponse) []byte {
	dst = appendStatusLine(dst, r.status)
	dst = append(dst, "X-Proxy: "...)
	dst = append(dst, c.xproxy...)
	dst = append(dst, "\r\n"...)
	if c.setCookie != "" {
		dst = append(dst, "Set-Cookie: "...)
		dst = append(dst, c.setCookie...)
		dst = append(dst, "\r\n"...)
	}
	dst = appendKept(dst, r.headers, proxy.ResponseDropped, r.listed)
	if r.length >= 0 && !r.chunkedToo {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, r.length, 10)
		dst = append(dst, "\r\n"...)
	}
	if !r.hasDate && len(c.date) > 0 {
		dst = append(dst, "Date: "...)
		dst = append(dst, c.date...)
		dst = append(dst, "\r\n"...)
	}
	if c.chunked {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if c.close {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// contentLength parses a Content-Length value: 1 to 18 decimal digits, nothing else
// (no sign, no spaces inside, no list).
func contentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// appendStatusLine writes the status line as net/http's server does.
func appendStatusLine(dst []byte, code int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if text := http.StatusText(code); text != "" {
		dst = append(dst, text...)
	} else {
		dst = append(dst, "status code "...)
		dst = strconv.AppendInt(dst, int64(code), 10)
	}
	return append(dst, "\r\n"...)
}

// chunkScanner follows a chunked body (RFC 9112 §7.1) passing through unchanged, to
// find where it ends: the last chunk and the trailer section.
type chunkScanner struct {
	state  uint8
	size   int64 // of the chunk whose size line is being read
	remain int64 // data bytes left in the current chunk
	digits int
	line   int   // bytes in the current trailer line
	data   int64 // data bytes seen, without the framing (the access log's bytes)
}

const (
	csSize uint8 = iota
	csExt
	csSizeLF
	csData
	csDataCR
	csDataLF
	csTrailer
	csTrailerLF
	csDone
)

var errBadChunk = errors.New("malformed chunked body from backend")

// scan consumes p and returns how many of its bytes belong to the body (all of them
// unless the body ended inside p) and whether the body is complete.
func (c *chunkScanner) scan(p []byte) (n int, done bool, err error) {
	for n < len(p) {
		b := p[n]
		switch c.state {
		case csSize:
			switch {
			case b == '\r':
				c.state = csSizeLF
			case b == ';' || b == ' ' || b == '\t':
				c.state = csExt
			case unhex(b) >= 0:
				if c.digits++; c.digits > 15 {
					return n, false, errBadChunk
				}
				c.size = c.size<<4 | int64(unhex(b))
			default:
				return n, false, errBadChunk
			}
			if c.state != csSize && c.digits == 0 {
				return n, false, errBadChunk
			}
		case csExt:
			if b == '\r' {
				c.state = csSizeLF
			} else if b == '\n' {
				return n, false, errBadChunk
			}
		case csSizeLF:
			if b != '\n' {
				return n, false, errBadChunk
			}
			if c.size == 0 {
				c.state, c.line = csTrailer, 0
			} else {
				c.state, c.remain = csData, c.size
			}
		case csData:
			k := min(int64(len(p)-n), c.remain)
			c.remain -= k
			c.data += k
			n += int(k)
			if c.remain == 0 {
				c.state = csDataCR
			}
			continue
		case csDataCR:
			if b != '\r' {
				return n, false, errBadChunk
			}
			c.state = csDataLF
		case csDataLF:
			if b != '\n' {
				return n, false, errBadChunk
			}
			c.state, c.size, c.digits = csSize, 0, 0
		case csTrailer:
			if b == '\r' {
				c.state = csTrailerLF
			} else if b == '\n' {
				return n, false, errBadChunk
			} else {
				c.line++
			}
		case csTrailerLF:
			if b != '\n' {
				return n, false, errBadChunk
			}
			if c.line == 0 {
				c.state = csDone
				return n + 1, true, nil
			}
			c.state, c.line = csTrailer, 0
		case csDone:
			return n, true, nil
		}
		n++
	}
	return n, c.state == csDone, nil
}

func unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// isToken reports whether b is an RFC 9110 token (method, header name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return true
}

// fieldValue reports whether b is a header value without control characters
// (HTAB allowed) and without leading whitespace on the line (obs-fold is refused
// before this, by the name check).
func fieldValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// cleanTarget reports whether uri is an origin-form target made only of characters
// RFC 3986 allows unescaped, with well-formed percent escapes: the nethttp engine
// forwards such a target byte for byte, so the fast path can too. Anything else goes
// to net/http, which re-encodes or refuses it.
func cleanTarget(uri []byte) bool {
	if len(uri) == 0 || uri[0] != '/' {
		return false
	}
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		if c == '%' {
			if i+2 >= len(uri) || unhex(uri[i+1]) < 0 || unhex(uri[i+2]) < 0 {
				return false
			}
			i += 2
			continue
		}
		if !uriChar[c] {
			return false
		}
	}
	return true
}

// cleanHost reports whether a Host value is a plain host[:port] (letters, digits,
// "-._~", brackets and colons for IPv6).
func cleanHost(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	for _, c := range h {
		if !hostChar[c] {
			return false
		}
	}
	return true
}

var tokenChar, uriChar, hostChar [256]bool

func init() {
	for c := range 256 {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		tokenChar[c] = alnum || bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
		uriChar[c] = alnum || bytes.IndexByte([]byte("-._~!$&'()*+,;=:@/?"), b) >= 0
		hostChar[c] = alnum || bytes.IndexByte([]byte("-._~:[]"), b) >= 0
	}
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
