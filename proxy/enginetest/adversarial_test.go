package enginetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// Adversarial HTTP/1.1 traffic through every engine that forwards with its own code
// (nethttp, the reference, and epoll; fasthttp is being retired and not covered).
//
// TestAdversarialRequests sends one raw byte string per row on a fresh client
// connection to a proxy whose only backend is a raw TCP listener that records the
// exact bytes it receives. Each row expects
//
//   - REJECT: the client gets an error answer (400, 411, 413, 414, 431, 501, 505 or
//     another 4xx), or the connection is closed (possibly after an error answer),
//     and the backend receives no message: no byte at all, except for rows marked
//     partialOK, where the fault lies in the body: the proxy streams bodies (it
//     never buffers them, see retry.go), so the head and the chunks before the fault
//     may have gone out; the backend must then see the message cut off by a close,
//     never completed. Whether the head leaves before the fault is met is a race in
//     both engines, so these rows cannot demand "no byte"; or
//   - FORWARD: the backend receives exactly the listed messages, each well framed
//     (checked by a strict parser: CRLF line ends, token names, no control bytes, one
//     of Content-Length or Transfer-Encoding: chunked), compared byte for byte on the
//     request line, the framing headers and the body; and the client gets one 200 per
//     message, in order; or
//   - either of the two, where RFC 9110/9112 allow both.
//
// Every forwarded message must carry exactly one Color header, the proxy's "blue",
// whatever Color or Connection headers the client sent.
//
// TestAdversarialResponses sends a plain GET to a proxy whose backend answers with
// hostile bytes. Everything the client receives is read with the same strict parser,
// so a response a client could frame differently from the proxy fails the row.
// Each row expects a 502 (nothing was sent yet), a cut connection (the backend's head
// was taken, then its body failed: the client sees the head and an incomplete body,
// or a close before any byte left the proxy's buffer), or one well-framed normalised
// response. A hostile head is detectable before anything is sent: those rows
// want 502 only.
//
// FuzzEnginesAgree sends the same bytes to a nethttp and an epoll proxy over
// identical raw backends and requires the same outcome: what the backends received
// (normalised) and the class of each status code the client got. Its corpus in
// testdata/fuzz/FuzzEnginesAgree holds inputs on which the engines disagree today.
//
//	go test -run 'TestAdversarial' -v ./proxy/enginetest/
//	go test -run FuzzEnginesAgree ./proxy/enginetest/               # the seeds, as a normal test
//	go test -run '^$' -fuzz FuzzEnginesAgree ./proxy/enginetest/    # fuzzing

// advEngines are the engines covered here: nethttp first, the reference.
func advEngines() []string {
	if runtime.GOOS == "linux" {
		return []string{proxy.EngineNetHTTP, proxy.EngineEpoll}
	}
	return []string{proxy.EngineNetHTTP}
}

// advWait bounds every wait for the proxy: an answer or a close must come within it.
const advWait = 3 * time.Second

// ---------------------------------------------------------------------------------
// A strict HTTP/1.1 message reader: the oracle for what crossed each wire. It
// shares no code with the proxy's own parsers (h1.go).

var (
	errIncomplete = errors.New("incomplete message")
	errCut        = errors.New("connection closed in the middle of a message")
)

type wireHeader struct{ name, value string }

// wireMsg is one strictly parsed message.
type wireMsg struct {
	line     string // start line, without CRLF
	status   int    // responses
	headers  []wireHeader
	framing  string // "none", "length", "chunked", "close"
	body     []byte // decoded
	trailers []wireHeader
	size     int // bytes on the wire
}

// values returns the values of the header fields called name (any case).
func (m *wireMsg) values(name string) []string {
	var vs []string
	for _, h := range m.headers {
		if strings.EqualFold(h.name, name) {
			vs = append(vs, h.value)
		}
	}
	return vs
}

func wireTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func wireToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !wireTokenChar(c) {
			return false
		}
	}
	return true
}

func wireCTL(c byte) bool { return c < ' ' && c != '\t' || c == 0x7f }

// wireLine returns the line at b[off:], which must end in CRLF and hold no other CR
// or LF.
func wireLine(b []byte, off int) (line []byte, next int, err error) {
	i := bytes.IndexByte(b[off:], '\n')
	if i < 0 {
		if j := bytes.IndexByte(b[off:], '\r'); j >= 0 && off+j+1 < len(b) {
			return nil, 0, fmt.Errorf("bare CR in %q", clip(b[off:]))
		}
		return nil, 0, errIncomplete
	}
	end := off + i
	if end == off || b[end-1] != '\r' {
		return nil, 0, fmt.Errorf("bare LF after %q", clip(b[off:end]))
	}
	line = b[off : end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, fmt.Errorf("bare CR in %q", clip(line))
	}
	return line, end + 1, nil
}

// wireFields reads field lines up to and including the empty line.
func wireFields(b []byte, off int) ([]wireHeader, int, error) {
	var hs []wireHeader
	for {
		line, next, err := wireLine(b, off)
		if err != nil {
			return nil, 0, err
		}
		off = next
		if len(line) == 0 {
			return hs, off, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, 0, fmt.Errorf("obs-fold line %q", clip(line))
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !wireToken(name) {
			return nil, 0, fmt.Errorf("bad field name in %q", clip(line))
		}
		value = bytes.Trim(value, " \t")
		for _, c := range value {
			if wireCTL(c) {
				return nil, 0, fmt.Errorf("control byte %#x in field %q", c, clip(line))
			}
		}
		hs = append(hs, wireHeader{string(name), string(value)})
	}
}

// parseWire reads the message at the start of b: a request (as the backend sees it)
// or a response to a GET (as the client sees it). eof says no more bytes will come:
// a close-delimited response ends there, and a message still incomplete is cut.
func parseWire(b []byte, response, eof bool) (m *wireMsg, err error) {
	defer func() {
		if errors.Is(err, errIncomplete) && eof {
			err = errCut
		}
	}()
	line, off, err := wireLine(b, 0)
	if err != nil {
		return nil, err
	}
	m = &wireMsg{line: string(line)}
	if response {
		proto, rest, _ := strings.Cut(m.line, " ")
		code, reason, _ := strings.Cut(rest, " ")
		if proto != "HTTP/1.1" && proto != "HTTP/1.0" || len(code) != 3 || strings.IndexFunc(code, func(r rune) bool { return r < '0' || r > '9' }) >= 0 ||
			strings.IndexFunc(reason, func(r rune) bool { return r < 0x80 && wireCTL(byte(r)) }) >= 0 {
			return nil, fmt.Errorf("bad status line %q", clip(line))
		}
		m.status, _ = strconv.Atoi(code)
	} else {
		parts := strings.Split(m.line, " ")
		if len(parts) != 3 || !wireToken([]byte(parts[0])) || parts[1] == "" || parts[2] != "HTTP/1.1" ||
			strings.IndexFunc(parts[1], func(r rune) bool { return r < 0x80 && wireCTL(byte(r)) }) >= 0 {
			return nil, fmt.Errorf("bad request line %q", clip(line))
		}
	}
	if m.headers, off, err = wireFields(b, off); err != nil {
		return nil, err
	}
	cls, tes := m.values("Content-Length"), m.values("Transfer-Encoding")
	switch {
	case response && (m.status/100 == 1 || m.status == 204 || m.status == 304):
		if len(tes) > 0 {
			return nil, fmt.Errorf("Transfer-Encoding on a %d", m.status)
		}
		m.framing = "none"
	case len(tes) > 0:
		if len(tes) != 1 || !strings.EqualFold(tes[0], "chunked") {
			return nil, fmt.Errorf("Transfer-Encoding %q is not exactly chunked", tes)
		}
		if len(cls) > 0 {
			return nil, fmt.Errorf("both Content-Length %q and Transfer-Encoding", cls)
		}
		m.framing = "chunked"
		if m.body, m.trailers, off, err = wireChunked(b, off); err != nil {
			return nil, err
		}
	case len(cls) > 1:
		return nil, fmt.Errorf("%d Content-Length fields %q", len(cls), cls)
	case len(cls) == 1:
		n, perr := strconv.ParseUint(cls[0], 10, 62)
		if perr != nil || cls[0] == "" || cls[0][0] == '+' {
			return nil, fmt.Errorf("bad Content-Length %q", cls[0])
		}
		m.framing = "length"
		if uint64(len(b)-off) < n {
			return nil, errIncomplete
		}
		m.body, off = b[off:off+int(n)], off+int(n)
	case response:
		m.framing = "close"
		if !eof {
			return nil, errIncomplete
		}
		m.body, off = b[off:], len(b)
	default:
		m.framing = "none"
	}
	m.body = bytes.Clone(m.body)
	m.size = off
	return m, nil
}

// wireChunked decodes a chunked body (RFC 9112 §7.1) with its trailer section.
func wireChunked(b []byte, off int) (body []byte, trailers []wireHeader, next int, err error) {
	for {
		line, n, err := wireLine(b, off)
		if err != nil {
			return nil, nil, 0, err
		}
		off = n
		size, ext, _ := bytes.Cut(line, []byte(";"))
		if len(size) == 0 || len(size) > 15 {
			return nil, nil, 0, fmt.Errorf("bad chunk size line %q", clip(line))
		}
		v := 0
		for _, c := range size {
			var d int
			switch {
			case '0' <= c && c <= '9':
				d = int(c - '0')
			case 'a' <= c && c <= 'f':
				d = int(c-'a') + 10
			case 'A' <= c && c <= 'F':
				d = int(c-'A') + 10
			default:
				return nil, nil, 0, fmt.Errorf("bad chunk size line %q", clip(line))
			}
			v = v<<4 | d
		}
		for _, c := range ext {
			if wireCTL(c) {
				return nil, nil, 0, fmt.Errorf("control byte in chunk extension %q", clip(line))
			}
		}
		if v == 0 {
			trailers, off, err = wireFields(b, off)
			return body, trailers, off, err
		}
		if len(b)-off < v+2 {
			return nil, nil, 0, errIncomplete
		}
		body = append(body, b[off:off+v]...)
		if b[off+v] != '\r' || b[off+v+1] != '\n' {
			return nil, nil, 0, fmt.Errorf("chunk data not followed by CRLF: %q", clip(b[off+v:]))
		}
		off += v + 2
	}
}

// clip shortens b for messages.
func clip(b []byte) string {
	if len(b) > 96 {
		return string(b[:96]) + "…"
	}
	return string(b)
}

// ---------------------------------------------------------------------------------
// The raw backend.

// rawOK is what the raw backend answers each well-framed message.
const rawOK = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

// rawBackend records, per connection, the exact bytes it receives and the messages
// they frame (strictly). It answers each message with rawOK, or, when hostile is set,
// answers the first message of a connection with hostile and then ends it (FIN).
// A malformed message gets a 400 and the connection is closed.
type rawBackend struct {
	ln      net.Listener
	hostile []byte

	mu      sync.Mutex
	changed *sync.Cond
	conns   []*rawConn
	open    map[net.Conn]struct{}
}

type rawConn struct {
	raw    []byte
	used   int // bytes framed into msgs
	msgs   []*wireMsg
	err    error // the proxy sent a malformed message
	closed bool  // the proxy closed (or reset) the connection
}

func newRawBackend(t testing.TB, hostile []byte) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln, hostile: hostile, open: map[net.Conn]struct{}{}}
	b.changed = sync.NewCond(&b.mu)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rc := &rawConn{}
			b.mu.Lock()
			b.conns = append(b.conns, rc)
			b.open[c] = struct{}{}
			b.mu.Unlock()
			wg.Go(func() { b.serve(c, rc) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for c := range b.open {
			_ = c.(*net.TCPConn).SetLinger(0) // no TIME_WAIT (see exchangeRaw)
			c.Close()
		}
		b.mu.Unlock()
		wg.Wait()
	})
	return b
}

func (b *rawBackend) url() *url.URL { return &url.URL{Scheme: "http", Host: b.ln.Addr().String()} }

func (b *rawBackend) serve(c net.Conn, rc *rawConn) {
	defer func() {
		c.Close()
		b.mu.Lock()
		delete(b.open, c)
		rc.closed = true
		b.changed.Broadcast()
		b.mu.Unlock()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, rerr := c.Read(buf)
		var replies []string
		end := false
		b.mu.Lock()
		rc.raw = append(rc.raw, buf[:n]...)
		for rc.err == nil && rc.used < len(rc.raw) {
			m, err := parseWire(rc.raw[rc.used:], false, rerr != nil)
			if errors.Is(err, errIncomplete) || errors.Is(err, errCut) {
				break
			}
			if err != nil {
				rc.err = err
				replies, end = append(replies, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), true
				break
			}
			rc.used += m.size
			rc.msgs = append(rc.msgs, m)
			if b.hostile != nil {
				replies, end = append(replies, string(b.hostile)), true
				break
			}
			replies = append(replies, rawOK)
		}
		if rerr != nil {
			rc.closed = true
		}
		b.changed.Broadcast()
		b.mu.Unlock()
		for _, r := range replies {
			if _, err := io.WriteString(c, r); err != nil {
				return
			}
		}
		if end {
			// Our FIN ends the response; read on (unrecorded) until the proxy closes,
			// so that nothing it still sends turns the close into a reset.
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c)
			return
		}
		if rerr != nil {
			return
		}
	}
}

// rawSnap is a copy of what one backend connection received.
type rawSnap struct {
	raw    []byte
	used   int
	msgs   []*wireMsg
	err    error
	closed bool
}

func (s rawSnap) partial() []byte { return s.raw[s.used:] }

// settle waits until every connection is closed or sits between messages (at most
// d), and returns what each received.
func (b *rawBackend) settle(d time.Duration) []rawSnap {
	expired := false
	timer := time.AfterFunc(d, func() {
		b.mu.Lock()
		expired = true
		b.changed.Broadcast()
		b.mu.Unlock()
	})
	defer timer.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for !expired && !b.settledLocked() {
		b.changed.Wait()
	}
	snaps := make([]rawSnap, 0, len(b.conns))
	for _, rc := range b.conns {
		snaps = append(snaps, rawSnap{raw: bytes.Clone(rc.raw), used: rc.used, msgs: slices.Clone(rc.msgs), err: rc.err, closed: rc.closed})
	}
	return snaps
}

func (b *rawBackend) settledLocked() bool {
	for _, rc := range b.conns {
		if !rc.closed && rc.err == nil && rc.used < len(rc.raw) {
			return false
		}
	}
	return true
}

// describeBackend renders what a backend received, for the table.
func describeBackend(snaps []rawSnap) string {
	var parts []string
	for i, s := range snaps {
		if len(s.raw) == 0 {
			continue
		}
		var p []string
		for _, m := range s.msgs {
			d := fmt.Sprintf("%q", m.line)
			for _, h := range m.headers {
				if strings.EqualFold(h.name, "Content-Length") || strings.EqualFold(h.name, "Transfer-Encoding") {
					d += fmt.Sprintf(" %s:%q", h.name, h.value)
				}
			}
			if len(m.body) > 0 {
				d += fmt.Sprintf(" body %q", clip(m.body))
			}
			p = append(p, d)
		}
		if s.err != nil {
			p = append(p, fmt.Sprintf("MALFORMED (%v)", s.err))
		} else if rest := s.partial(); len(rest) > 0 {
			state := "then open"
			if s.closed {
				state = "then closed"
			}
			p = append(p, fmt.Sprintf("partial %q %s", clip(rest), state))
		}
		parts = append(parts, fmt.Sprintf("conn%d[%s]", i+1, strings.Join(p, "; ")))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}

// ---------------------------------------------------------------------------------
// The client side.

type clientResult struct {
	raw      []byte
	resps    []*wireMsg // complete responses, interim ones included
	finals   int        // of which final (status >= 200)
	rest     []byte     // bytes after the last complete response
	err      error      // what the proxy sent is not well framed
	cut      bool       // closed in the middle of a response (rest holds its start)
	closed   bool       // the proxy closed (or reset) the connection
	timedOut bool       // neither the answers nor a close came within the wait
}

// finalResps are the final responses, in order.
func (r *clientResult) finalResps() []*wireMsg {
	var fs []*wireMsg
	for _, m := range r.resps {
		if m.status >= 200 {
			fs = append(fs, m)
		}
	}
	return fs
}

// exchangeRaw writes in on a fresh connection to addr and reads until want final
// responses arrived (then, when needClose says so, on until the proxy closes), the
// proxy closed, what it sent is malformed, or wait passed. halfClose ends the
// client's side after in.
func exchangeRaw(addr string, in []byte, want int, needClose func(*clientResult) bool, halfClose bool, wait time.Duration) (clientResult, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return clientResult{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	wrote := make(chan struct{})
	go func() { // the proxy may answer (and close) before it read everything
		defer close(wrote)
		if _, err := c.Write(in); err == nil && halfClose {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	var r clientResult
	buf := make([]byte, 32<<10)
	off := 0
	for {
		n, rerr := c.Read(buf)
		r.raw = append(r.raw, buf[:n]...)
		for r.err == nil && !r.cut && off < len(r.raw) {
			m, err := parseWire(r.raw[off:], true, rerr != nil)
			if errors.Is(err, errIncomplete) {
				break
			}
			if errors.Is(err, errCut) {
				r.cut = true
				break
			}
			if err != nil {
				r.err = err
				break
			}
			off += m.size
			r.resps = append(r.resps, m)
			if m.status >= 200 {
				r.finals++
			}
		}
		if rerr != nil {
			if errors.Is(rerr, os.ErrDeadlineExceeded) {
				r.timedOut = true
			} else {
				r.closed = true
			}
			break
		}
		if r.err != nil || r.finals >= want && (needClose == nil || !needClose(&r)) {
			break
		}
	}
	r.rest = r.raw[off:]
	_ = c.SetDeadline(time.Now()) // unblocks the writer
	<-wrote
	// Done with it: close without TIME_WAIT, or fuzzing (thousands of exchanges)
	// runs out of local ports.
	_ = c.(*net.TCPConn).SetLinger(0)
	return r, nil
}

// describeClient renders what the client got, for the table.
func describeClient(r clientResult) string {
	var parts []string
	for _, m := range r.resps {
		d := strconv.Itoa(m.status)
		if m.status >= 200 {
			d += fmt.Sprintf(" %q", clip(m.body))
			if m.framing != "length" {
				d += " (" + m.framing + ")"
			}
		}
		parts = append(parts, d)
	}
	if r.err != nil {
		parts = append(parts, fmt.Sprintf("MALFORMED %v in %q", r.err, clip(r.rest)))
	} else if len(r.rest) > 0 {
		parts = append(parts, fmt.Sprintf("partial %q", clip(r.rest)))
	}
	switch {
	case r.cut:
		parts = append(parts, "cut")
	case r.closed:
		parts = append(parts, "close")
	case r.timedOut && len(r.raw) == 0:
		parts = append(parts, fmt.Sprintf("NOTHING within %v", advWait))
	case r.timedOut:
		parts = append(parts, "(open)")
	}
	return strings.Join(parts, ", ")
}

// advFront starts a proxy with engine whose only backend ("blue") is be.
func advFront(t *testing.T, engine string, be *rawBackend) *proxytest.Front {
	t.Helper()
	p := newTestProxy(t, engine, proxy.Options{}, proxy.BackendSpec{Name: "blue", Weight: 1, Members: []*url.URL{be.url()}})
	ready := &server.Readiness{Check: p.Ready}
	ready.Set(true)
	return newFrontReady(t, p, ready)
}

// advResult is one line of a table.
type advResult struct {
	row, engine, client, backend string
	problems                     []string
	detail                       string // for a failing row: what was sent and got
}

func logTable(t *testing.T, results []advResult) {
	t.Helper()
	var b strings.Builder
	b.WriteString("\n| row | engine | client got | backend got | verdict |\n|---|---|---|---|---|\n")
	for _, r := range results {
		if r.engine == "" {
			continue
		}
		verdict := "ok"
		if len(r.problems) > 0 {
			verdict = "FAIL: " + strings.Join(r.problems, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.row, r.engine, r.client, r.backend, verdict)
	}
	t.Log(b.String())
}

// ---------------------------------------------------------------------------------
// Requests.

type expect uint8

const (
	reject expect = 1 << iota
	forward
)

func (e expect) String() string {
	switch e {
	case reject:
		return "REJECT"
	case forward:
		return "FORWARD"
	}
	return "REJECT or FORWARD"
}

// wantMsg is a message the backend must receive.
type wantMsg struct {
	line   string   // request line, exactly
	cl, te string   // Content-Length and Transfer-Encoding values, exactly ("" none)
	body   string   // body bytes (decoded)
	hdr    []string // "Name: value": exactly one such field with that value
	absent []string // names that must not be there
}

type reqRow struct {
	name string
	raw  string
	want expect
	msgs []wantMsg // FORWARD: the messages, in order
	// partialOK: the fault follows body bytes a streaming proxy has forwarded by
	// then; the backend may get them, but the message must be cut (closed).
	partialOK bool
	// closeAfter: the proxy must close the connection after its answer.
	closeAfter bool
	halfClose  bool   // the client ends its side after sending
	never      string // must appear nowhere in what the backend received
}

// Building blocks of the request rows: a Host and the Color extras (a client's
// Color must not reach the backend, and listing Color in Connection must not remove
// the proxy's).
const (
	hH = "Host: front.example\r\n"
	xC = "Color: red\r\nConnection: Color\r\n"
)

var advRequestRows = []reqRow{
	// References.
	{name: "plain GET", raw: "GET /a?b=1 HTTP/1.1\r\n" + hH + xC + "\r\n", want: forward,
		msgs: []wantMsg{{line: "GET /a?b=1 HTTP/1.1"}}},
	{name: "POST with Content-Length", raw: "POST /up HTTP/1.1\r\n" + hH + xC + "Content-Length: 5\r\n\r\nhello", want: forward,
		msgs: []wantMsg{{line: "POST /up HTTP/1.1", cl: "5", body: "hello"}}},
	{name: "POST chunked", raw: "POST /up HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "POST /up HTTP/1.1", te: "chunked", body: "hello world"}}},

	// Smuggling: Content-Length with Transfer-Encoding. RFC 9112 §6.1: reject, or
	// process by Transfer-Encoding alone (Content-Length removed before forwarding);
	// either way the server MUST close the connection after responding.
	{name: "CL+TE", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		want: reject | forward, msgs: []wantMsg{{line: "POST / HTTP/1.1", te: "chunked", body: "hello"}}},
	{name: "TE+CL", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		want: reject | forward, msgs: []wantMsg{{line: "POST / HTTP/1.1", te: "chunked", body: "hello"}}},
	{name: "CL+TE then a request: closed after the answer (RFC 9112 §6.1 MUST)",
		raw:  "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hH + "\r\n",
		want: reject | forward, msgs: []wantMsg{{line: "POST / HTTP/1.1", te: "chunked", body: "hello"}}, closeAfter: true, never: "/smuggled"},

	// Content-Length values (RFC 9110 §8.6: 1*DIGIT; equal duplicates may be
	// collapsed into one).
	{name: "two Content-Length, equal", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		want: reject | forward, msgs: []wantMsg{{line: "POST / HTTP/1.1", cl: "5", body: "hello"}}},
	{name: "Content-Length list 5, 5", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 5, 5\r\n\r\nhello",
		want: reject | forward, msgs: []wantMsg{{line: "POST / HTTP/1.1", cl: "5", body: "hello"}}},
	{name: "two Content-Length, different", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", want: reject},
	{name: "Content-Length +5", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: +5\r\n\r\nhello", want: reject},
	{name: "Content-Length -5", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: -5\r\n\r\nhello", want: reject},
	{name: "Content-Length 0x5", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 0x5\r\n\r\nhello", want: reject},
	{name: "Content-Length 5 5", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 5 5\r\n\r\nhello", want: reject},
	{name: "Content-Length empty", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: \r\n\r\nhello", want: reject},
	{name: "Content-Length overflows", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 99999999999999999999\r\n\r\nhello", want: reject},
	{name: "Content-Length space-padded", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: \t 5 \t\r\n\r\nhello", want: forward,
		msgs: []wantMsg{{line: "POST / HTTP/1.1", cl: "5", body: "hello"}}},

	// Transfer-Encoding variants: only a single "chunked" is framing a proxy can
	// forward; other codings get 501 (or 400).
	{name: "TE chunked, identity", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: reject},
	{name: "TE identity", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", want: reject},
	{name: "TE xchunked", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: reject},
	{name: "TE chunked in two lines", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: reject},
	{name: "TE ' chunked' (extra whitespace)", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding:  \tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "POST / HTTP/1.1", te: "chunked", body: "hello"}}},
	{name: "TE CHUNKED (case)", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "POST / HTTP/1.1", te: "chunked", body: "hello"}}},
	{name: "TE continued by obs-fold", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 5\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\nhello", want: reject},
	// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; close
	// after the message, never read the rest as another request.
	{name: "TE chunked with HTTP/1.0, keep-alive, a request in the body",
		raw:  "POST / HTTP/1.0\r\n" + hH + xC + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hH + "\r\n",
		want: reject | forward, msgs: []wantMsg{{line: "POST / HTTP/1.1", cl: "0"}}, closeAfter: true, never: "/smuggled"},

	// Field syntax.
	{name: "obs-fold (space)", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\r\n 2\r\n\r\n", want: reject | forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1", hdr: []string{"X-A: 1 2"}}}},
	{name: "obs-fold (tab)", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\r\n\t2\r\n\r\n", want: reject | forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1", hdr: []string{"X-A: 1 2"}}}},
	// RFC 9112 §2.2: reject, or ignore the whitespace-preceded line.
	{name: "whitespace before the first field", raw: "GET / HTTP/1.1\r\n X-A: 1\r\n" + hH + xC + "\r\n", want: reject | forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1", absent: []string{"X-A"}}}},
	{name: "bare CR in a value", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\r2\r\n\r\n", want: reject},
	{name: "bare CR ending a line", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\rX-B: 2\r\n\r\n", want: reject},
	// RFC 9112 §2.2: a recipient MAY take a bare LF as a line end (net/http does);
	// what matters is one well-framed message.
	{name: "bare LF line ends", raw: "GET /lf HTTP/1.1\nHost: front.example\nColor: red\nConnection: Color\n\n", want: reject | forward,
		msgs: []wantMsg{{line: "GET /lf HTTP/1.1"}}},
	{name: "bare LF line ends, with a body", raw: "POST /lf HTTP/1.1\nHost: front.example\nColor: red\nContent-Length: 5\n\nhello", want: reject | forward,
		msgs: []wantMsg{{line: "POST /lf HTTP/1.1", cl: "5", body: "hello"}}},
	{name: "bare LF inside a CRLF head", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\nX-B: 2\r\n\r\n", want: reject | forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1", hdr: []string{"X-A: 1", "X-B: 2"}}}},
	{name: "bare LF before Content-Length", raw: "POST / HTTP/1.1\r\n" + hH + xC + "X-A: 1\nContent-Length: 5\r\n\r\nhello", want: reject | forward,
		msgs: []wantMsg{{line: "POST / HTTP/1.1", cl: "5", body: "hello"}}},
	{name: "NUL in a value", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\x002\r\n\r\n", want: reject},
	{name: "NUL in a name", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X\x00A: 1\r\n\r\n", want: reject},
	{name: "SOH in a value", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\x012\r\n\r\n", want: reject},
	{name: "VT in a value", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\x0b2\r\n\r\n", want: reject},
	{name: "DEL in a value", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: 1\x7f2\r\n\r\n", want: reject},
	{name: "ESC in a name", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X\x1bA: 1\r\n\r\n", want: reject},
	{name: "NUL in the target", raw: "GET /a\x00b HTTP/1.1\r\n" + hH + xC + "\r\n", want: reject},
	{name: "obs-text in a value", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A: caf\xc3\xa9\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1", hdr: []string{"X-A: caf\xc3\xa9"}}}},
	// RFC 9112 §5.1: a server MUST reject whitespace between name and colon.
	{name: "space before colon", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A : 1\r\n\r\n", want: reject},
	{name: "tab before colon", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A\t: 1\r\n\r\n", want: reject},
	{name: "space before colon (Content-Length)", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length : 5\r\n\r\nhello", want: reject},
	{name: "space before colon (Transfer-Encoding)", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: reject},
	{name: "field without colon", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-A 1\r\n\r\n", want: reject},
	{name: "empty field name", raw: "GET / HTTP/1.1\r\n" + hH + xC + ": 1\r\n\r\n", want: reject},

	// Chunked bodies: faults in a body are partialOK (see the top of the file).
	{name: "chunk size zz", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", want: reject, partialOK: true},
	{name: "chunk size -5", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", want: reject, partialOK: true},
	{name: "chunk size 0x5", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", want: reject, partialOK: true},
	{name: "chunk size overflows", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n", want: reject, partialOK: true},
	{name: "chunk extensions", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0;last\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "POST / HTTP/1.1", te: "chunked", body: "hello"}}},
	{name: "chunk trailers", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "POST / HTTP/1.1", te: "chunked", body: "hello"}}},
	{name: "chunk data longer than its size", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", want: reject, partialOK: true},
	{name: "chunk data without its CRLF", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n", want: reject, partialOK: true},
	{name: "NUL in a trailer", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n", want: reject, partialOK: true},
	{name: "no final CRLF, client half-closes", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", want: reject, partialOK: true, halfClose: true},
	{name: "body shorter than Content-Length, client half-closes", raw: "POST / HTTP/1.1\r\n" + hH + xC + "Content-Length: 10\r\n\r\nhello", want: reject, partialOK: true, halfClose: true},

	// Targets, methods, versions.
	{name: "absolute-form target", raw: "GET http://evil.example/p?q=1 HTTP/1.1\r\n" + hH + xC + "\r\n", want: forward,
		msgs: []wantMsg{{line: "GET /p?q=1 HTTP/1.1"}}},
	{name: "CONNECT", raw: "CONNECT backend.example:443 HTTP/1.1\r\nHost: backend.example:443\r\n" + xC + "\r\n", want: reject, never: "CONNECT"},
	{name: "HTTP/2.0 request line", raw: "GET / HTTP/2.0\r\n" + hH + xC + "\r\n", want: reject},
	{name: "lower-case version", raw: "GET / http/1.1\r\n" + hH + xC + "\r\n", want: reject},
	{name: "no Host", raw: "GET / HTTP/1.1\r\n" + xC + "\r\n", want: reject},
	{name: "two Hosts", raw: "GET / HTTP/1.1\r\n" + hH + "Host: other.example\r\n" + xC + "\r\n", want: reject},
	{name: "head too large (2 MiB field)", raw: "GET / HTTP/1.1\r\n" + hH + xC + "X-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", want: reject},
	{name: "target too long (2 MiB)", raw: "GET /" + strings.Repeat("a", 2<<20) + " HTTP/1.1\r\n" + hH + xC + "\r\n", want: reject},
	{name: "HTTP/0.9", raw: "GET /\r\n", want: reject},
	{name: "HTTP/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", want: reject, never: "PRI"},

	// Pipelining: every message separately, every answer in order.
	{name: "pipelined POST then GET", raw: "POST /one HTTP/1.1\r\n" + hH + xC + "Content-Length: 5\r\n\r\nhello" + "GET /two HTTP/1.1\r\n" + hH + xC + "\r\n",
		want: forward, msgs: []wantMsg{{line: "POST /one HTTP/1.1", cl: "5", body: "hello"}, {line: "GET /two HTTP/1.1"}}},
	// A chunked request ends its connection (Connection: close on the answer): net/http
	// drops a Content-Length that came with chunked before the proxy can see it, so the
	// proxy cannot tell this from the CL+TE row above, where RFC 9112 §6.1 requires the
	// close. A pipelining client sends what follows again on a new connection.
	{name: "pipelined chunked POST then GET: closed after the POST", raw: "POST /one HTTP/1.1\r\n" + hH + xC + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + "GET /two HTTP/1.1\r\n" + hH + xC + "\r\n",
		want: forward, msgs: []wantMsg{{line: "POST /one HTTP/1.1", te: "chunked", body: "hello"}}, closeAfter: true, never: "/two"},
	{name: "pipelined GET then POST", raw: "GET /one HTTP/1.1\r\n" + hH + xC + "\r\n" + "POST /two HTTP/1.1\r\n" + hH + xC + "Content-Length: 5\r\n\r\nhello",
		want: forward, msgs: []wantMsg{{line: "GET /one HTTP/1.1"}, {line: "POST /two HTTP/1.1", cl: "5", body: "hello"}}},
	{name: "pipelined GET, GET", raw: "GET /one HTTP/1.1\r\n" + hH + xC + "\r\n" + "GET /two HTTP/1.1\r\n" + hH + "\r\n",
		want: forward, msgs: []wantMsg{{line: "GET /one HTTP/1.1"}, {line: "GET /two HTTP/1.1"}}},

	// The Color header: whatever the client sends, the backend gets the proxy's.
	{name: "Color twice, any case", raw: "GET / HTTP/1.1\r\n" + hH + "Color: red\r\ncolor: green\r\nCOLOR: blue, red\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1"}}},
	{name: "Connection lists Color with close", raw: "GET / HTTP/1.1\r\n" + hH + "Connection: close, Color\r\nColor: red\r\n\r\n", want: forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1"}}},
	{name: "Color with HTTP/1.0", raw: "GET / HTTP/1.0\r\n" + hH + xC + "\r\n", want: forward,
		msgs: []wantMsg{{line: "GET / HTTP/1.1"}}},
}

// rejectCodes are the answers a malformed request may get.
var rejectCodes = []int{400, 405, 411, 413, 414, 431, 501, 505}

func TestAdversarialRequests(t *testing.T) {
	var cases []*advCase
	for _, row := range advRequestRows {
		for _, engine := range advEngines() {
			be := newRawBackend(t, nil)
			front := advFront(t, engine, be)
			cases = append(cases, &advCase{name: engine + "/" + row.name, run: func() advResult {
				res := advResult{row: row.name, engine: engine}
				// Read on until the proxy closes when the row needs to know: the
				// close it must do, or one that makes an error answer a rejection.
				needClose := func(r *clientResult) bool {
					f := r.finalResps()[0]
					return row.closeAfter || row.want&reject != 0 && f.status >= 400 && !slices.Contains(rejectCodes, f.status)
				}
				cr, err := exchangeRaw(front.Addr, []byte(row.raw), max(1, len(row.msgs)), needClose, row.halfClose, advWait)
				if err != nil {
					res.problems = []string{err.Error()}
					return res
				}
				snaps := be.settle(advWait)
				res.client, res.backend = describeClient(cr), describeBackend(snaps)
				res.problems = checkRequestRow(row, cr, snaps)
				if len(res.problems) > 0 {
					res.detail = fmt.Sprintf("want %s\n  sent:    %q\n  client:  %s\n  backend: %s", row.want, clip([]byte(row.raw)), res.client, res.backend)
				}
				return res
			}})
		}
	}
	runCases(t, cases)
}

// advCase is one row on one engine: run does the exchange (it must not call t's
// Fatal or Error: it runs on its own goroutine).
type advCase struct {
	name string
	run  func() advResult
	res  advResult
}

// runCases runs every case at once (most wait on the proxy, some for advWait),
// then reports each as a subtest and logs the table.
func runCases(t *testing.T, cases []*advCase) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Go(func() { c.res = c.run() })
	}
	wg.Wait()
	results := make([]advResult, 0, len(cases))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.res.problems {
				t.Error(p)
			}
			if c.res.detail != "" {
				t.Log(c.res.detail)
			}
		})
		results = append(results, c.res)
	}
	logTable(t, results)
}

func checkRequestRow(row reqRow, cr clientResult, snaps []rawSnap) []string {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }

	if cr.err != nil {
		bad("the proxy's answer is not well framed: %v", cr.err)
	}
	if cr.timedOut && len(cr.raw) == 0 {
		bad("no answer and no close within %v", advWait)
	}
	var msgs []*wireMsg
	partial := false
	for i, s := range snaps {
		if s.err != nil {
			bad("backend connection %d: the proxy sent a malformed message: %v", i+1, s.err)
		}
		if len(s.partial()) > 0 && s.err == nil {
			partial = true
			if !s.closed {
				bad("backend connection %d: an incomplete message %q left open", i+1, clip(s.partial()))
			}
		}
		if row.never != "" && bytes.Contains(s.raw, []byte(row.never)) {
			bad("%q reached the backend", row.never)
		}
		msgs = append(msgs, s.msgs...)
	}
	for i, m := range msgs {
		if c := m.values("Color"); len(c) != 1 || c[0] != "blue" {
			bad("message %d: Color %q, want exactly one, \"blue\"", i+1, c)
		}
		if h := m.values("Host"); len(h) != 1 {
			bad("message %d: Host %q, want exactly one", i+1, h)
		}
	}
	finals := cr.finalResps()

	if len(msgs) > 0 || partial && !row.partialOK {
		if row.want&forward == 0 {
			bad("forwarded, want it rejected")
			return problems
		}
		if len(msgs) != len(row.msgs) {
			bad("the backend got %d complete messages, want %d", len(msgs), len(row.msgs))
		}
		for i := range min(len(msgs), len(row.msgs)) {
			problems = append(problems, checkMsg(i+1, msgs[i], row.msgs[i])...)
		}
		for i, f := range finals {
			switch {
			case i < len(row.msgs) && (f.status != 200 || string(f.body) != "ok"):
				bad("answer %d: %d %q, want the backend's 200 \"ok\"", i+1, f.status, clip(f.body))
			case i >= len(row.msgs) && f.status < 400:
				bad("answer %d: %d for bytes that are no message", i+1, f.status)
			}
		}
		if len(finals) < len(row.msgs) {
			bad("the client got %d answers, want %d", len(finals), len(row.msgs))
		}
	} else {
		if row.want&reject == 0 {
			bad("not forwarded, want it forwarded")
			return problems
		}
		switch {
		case len(finals) > 0 && slices.Contains(rejectCodes, finals[0].status):
		case len(finals) > 0 && finals[0].status >= 400 && cr.closed:
		case len(finals) == 0 && cr.closed && len(cr.rest) == 0:
		case len(finals) > 0:
			bad("answered %d, want an error answer (4xx, 501, 505) or the connection closed", finals[0].status)
		default:
			bad("neither an error answer nor a close")
		}
	}
	if row.closeAfter && !cr.closed {
		bad("the connection stayed open after the answer, want it closed")
	}
	return problems
}

func checkMsg(i int, m *wireMsg, w wantMsg) []string {
	var problems []string
	bad := func(f string, a ...any) {
		problems = append(problems, fmt.Sprintf("message %d: "+f, append([]any{i}, a...)...))
	}
	if m.line != w.line {
		bad("request line %q, want %q", m.line, w.line)
	}
	if cl := strings.Join(m.values("Content-Length"), ","); cl != w.cl {
		bad("Content-Length %q, want %q", cl, w.cl)
	}
	if te := strings.Join(m.values("Transfer-Encoding"), ","); te != w.te {
		bad("Transfer-Encoding %q, want %q", te, w.te)
	}
	if string(m.body) != w.body {
		bad("body %q, want %q", clip(m.body), w.body)
	}
	for _, h := range w.hdr {
		name, value, _ := strings.Cut(h, ": ")
		if v := m.values(name); len(v) != 1 || v[0] != value {
			bad("%s %q, want exactly %q", name, v, value)
		}
	}
	for _, name := range w.absent {
		if v := m.values(name); len(v) > 0 {
			bad("%s %q, want none", name, v)
		}
	}
	return problems
}

// ---------------------------------------------------------------------------------
// Responses.

type respExpect uint8

const (
	want502 respExpect = 1 << iota
	wantCut
	wantOK
)

func (e respExpect) String() string {
	var s []string
	if e&want502 != 0 {
		s = append(s, "502")
	}
	if e&wantCut != 0 {
		s = append(s, "cut")
	}
	if e&wantOK != 0 {
		s = append(s, "normalised")
	}
	return strings.Join(s, " or ")
}

type respRow struct {
	name    string
	hostile string
	want    respExpect
	body    string   // wantOK: the body the client gets
	hdr     []string // wantOK: "Name: value" fields the client gets, exactly once each
}

const rOK = "HTTP/1.1 200 OK\r\n"

var advResponseRows = []respRow{
	{name: "well framed (reference)", hostile: rOK + "Content-Length: 2\r\nX-A: a\r\n\r\nok", want: wantOK, body: "ok", hdr: []string{"X-A: a"}},
	// A bare LF may be taken as a line end (net/http does): then the proxy must
	// send two CRLF-ended fields. Never the bare LF itself.
	{name: "bare LF inside a value", hostile: rOK + "X-A: a\nX-B: b\r\nContent-Length: 2\r\n\r\nok", want: want502 | wantOK, body: "ok", hdr: []string{"X-A: a", "X-B: b"}},
	{name: "bare LF brings a second Content-Length", hostile: rOK + "Content-Length: 2\r\nX-A: a\nContent-Length: 7\r\n\r\nok", want: want502},
	{name: "bare LF line ends", hostile: "HTTP/1.1 200 OK\nX-A: a\nContent-Length: 2\n\nok", want: want502 | wantOK, body: "ok", hdr: []string{"X-A: a"}},
	{name: "bare CR inside a value", hostile: rOK + "X-A: a\rX-B: b\r\nContent-Length: 2\r\n\r\nok", want: want502},
	{name: "Content-Length abc", hostile: rOK + "Content-Length: abc\r\n\r\nok", want: want502},
	{name: "Content-Length +2", hostile: rOK + "Content-Length: +2\r\n\r\nok", want: want502},
	{name: "Content-Length -1", hostile: rOK + "Content-Length: -1\r\n\r\nok", want: want502},
	{name: "two different Content-Lengths", hostile: rOK + "Content-Length: 2\r\nContent-Length: 5\r\n\r\nok", want: want502},
	{name: "two equal Content-Lengths", hostile: rOK + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", want: want502 | wantOK, body: "ok"},
	// RFC 9112 §6.1: Transfer-Encoding overrides; an intermediary that forwards
	// MUST remove Content-Length first.
	{name: "Content-Length and chunked", hostile: rOK + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: want502 | wantOK, body: "ok"},
	{name: "NUL in a value", hostile: rOK + "X-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", want: want502},
	{name: "NUL in a name", hostile: rOK + "X\x00A: a\r\nContent-Length: 2\r\n\r\nok", want: want502},
	{name: "DEL in a value", hostile: rOK + "X-A: a\x7fb\r\nContent-Length: 2\r\n\r\nok", want: want502},
	// RFC 9112 §5.1/§5.2: a proxy MUST remove whitespace before the colon and
	// replace obs-fold before forwarding (or refuse the response).
	{name: "space before colon", hostile: rOK + "X-A : a\r\nContent-Length: 2\r\n\r\nok", want: want502 | wantOK, body: "ok"},
	{name: "obs-fold", hostile: rOK + "X-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok", want: want502 | wantOK, body: "ok"},
	{name: "garbage status line", hostile: "HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\nok", want: want502},
	{name: "status 2000", hostile: "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", want: want502},
	{name: "not HTTP", hostile: "SSH-2.0-OpenSSH_9.6\r\n\r\n", want: want502},
	{name: "truncated head, then close", hostile: rOK + "Content-Le", want: want502},
	{name: "body shorter than Content-Length, then close", hostile: rOK + "Content-Length: 10\r\n\r\nshort", want: want502 | wantCut},
	{name: "chunked, bad chunk size", hostile: rOK + "Transfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n", want: want502 | wantCut},
	{name: "chunked, chunk size overflows", hostile: rOK + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nok\r\n0\r\n\r\n", want: want502 | wantCut},
	{name: "chunked, close before the last chunk", hostile: rOK + "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", want: want502 | wantCut},
	{name: "100 Continue, then 200", hostile: "HTTP/1.1 100 Continue\r\n\r\n" + rOK + "Content-Length: 2\r\n\r\nok", want: wantOK, body: "ok"},
	{name: "103 Early Hints, then 200", hostile: "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + rOK + "Content-Length: 2\r\n\r\nok", want: wantOK, body: "ok"},
	{name: "HTTP/1.0, close-delimited", hostile: "HTTP/1.0 200 OK\r\nX-A: a\r\n\r\nuntil the end", want: wantOK, body: "until the end", hdr: []string{"X-A: a"}},
}

func TestAdversarialResponses(t *testing.T) {
	var cases []*advCase
	for _, row := range advResponseRows {
		for _, engine := range advEngines() {
			be := newRawBackend(t, []byte(row.hostile))
			front := advFront(t, engine, be)
			cases = append(cases, &advCase{name: engine + "/" + row.name, run: func() advResult {
				res := advResult{row: row.name, engine: engine, backend: fmt.Sprintf("%q", clip([]byte(row.hostile)))}
				cr, err := exchangeRaw(front.Addr, []byte("GET /r HTTP/1.1\r\n"+hH+"\r\n"), 1, nil, false, advWait)
				if err != nil {
					res.problems = []string{err.Error()}
					return res
				}
				snaps := be.settle(advWait)
				res.client = describeClient(cr)
				if len(snaps) == 0 || len(snaps[0].msgs) == 0 {
					res.problems = append(res.problems, "the GET did not reach the backend: "+describeBackend(snaps))
				}
				res.problems = append(res.problems, checkResponseRow(row, cr)...)
				if len(res.problems) > 0 {
					res.detail = fmt.Sprintf("want %s\n  backend sent: %q\n  client got:   %s", row.want, clip([]byte(row.hostile)), res.client)
				}
				return res
			}})
		}
	}
	runCases(t, cases)
}

func checkResponseRow(row respRow, cr clientResult) []string {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	if cr.err != nil {
		bad("the client got bytes it cannot frame unambiguously: %v", cr.err)
		return problems
	}
	finals := cr.finalResps()
	switch {
	case len(finals) > 1:
		bad("%d responses to one request", len(finals))
	case len(finals) == 1 && finals[0].status == http.StatusBadGateway:
		if row.want&want502 == 0 {
			bad("502, want the response passed on normalised")
		}
	case len(finals) == 1:
		f := finals[0]
		if row.want&wantOK == 0 {
			bad("%d %q passed on, want %s", f.status, clip(f.body), row.want)
			break
		}
		if f.status != 200 || string(f.body) != row.body {
			bad("%d %q, want 200 %q", f.status, clip(f.body), row.body)
		}
		if f.framing != "length" && f.framing != "chunked" {
			bad("body framed by %s, want Content-Length or chunked", f.framing)
		}
		for _, h := range row.hdr {
			name, value, _ := strings.Cut(h, ": ")
			if v := f.values(name); len(v) != 1 || v[0] != value {
				bad("%s %q, want exactly %q", name, v, value)
			}
		}
	case cr.cut && bytes.Contains(cr.rest, []byte("\r\n\r\n")), cr.closed && len(cr.raw) == 0:
		// Cut after the head, or before its first byte left the proxy's buffer (the
		// head was taken, the body then failed): a client sees an aborted response.
		if row.want&wantCut == 0 {
			bad("the connection was cut (%q), want %s", clip(cr.raw), row.want)
		}
	case cr.closed:
		bad("the connection closed with %q and no complete answer; want %s", clip(cr.rest), row.want)
	default:
		bad("no answer within %v (got %q)", advWait, clip(cr.raw))
	}
	return problems
}

// ---------------------------------------------------------------------------------
// The engines agree.

// fuzzSentinel follows the fuzzed bytes: when they are complete requests, its answer
// (and the close it asks for) tells that everything before it was handled.
const fuzzSentinel = "GET /__fuzz_end HTTP/1.1\r\nHost: end.example\r\nConnection: close\r\n\r\n"

// engineView is what one engine made of an input, normalised for comparison.
type engineView struct {
	client  []string // status class of each final answer, then how the connection ended
	backend []string // each message, normalised; "partial" for a cut one
}

func FuzzEnginesAgree(f *testing.F) {
	if !(runtime.GOOS == "linux") {
		f.Skip("the epoll engine is Linux-only")
	}
	for _, r := range advRequestRows {
		if len(r.raw) <= 64<<10 {
			f.Add([]byte(r.raw))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			t.Skip("large inputs are covered by the request table")
		}
		engines := []string{proxy.EngineNetHTTP, proxy.EngineEpoll}
		views := make([]engineView, len(engines))
		descr := make([][2]string, len(engines))
		var wg sync.WaitGroup
		for i, engine := range engines {
			be := newRawBackend(t, nil)
			front := advFront(t, engine, be)
			wg.Go(func() {
				cr, err := exchangeRaw(front.Addr, append(bytes.Clone(in), fuzzSentinel...), 1<<30, nil, false, advWait)
				if err != nil {
					t.Error(err)
					return
				}
				snaps := be.settle(advWait)
				views[i] = normaliseView(cr, snaps)
				descr[i] = [2]string{describeClient(cr), describeBackend(snaps)}
			})
		}
		wg.Wait()
		if !slices.Equal(views[0].client, views[1].client) || !slices.Equal(views[0].backend, views[1].backend) {
			t.Errorf("the engines disagree on %q\n  nethttp: client %v\n           backend %q\n  epoll:   client %v\n           backend %q\n  (nethttp client %s | backend %s)\n  (epoll   client %s | backend %s)",
				clip(in), views[0].client, views[0].backend, views[1].client, views[1].backend, descr[0][0], descr[0][1], descr[1][0], descr[1][1])
		}
	})
}

// normaliseView keeps what must not differ between engines: the status classes and
// how the client connection ended, the complete messages the backend got (header
// names canonicalised and sorted, as the engines order them differently; the
// backend's own address in Host replaced), and whether the proxy sent a malformed
// message or left an incomplete one open.
func normaliseView(cr clientResult, snaps []rawSnap) engineView {
	var v engineView
	for _, m := range cr.finalResps() {
		v.client = append(v.client, fmt.Sprintf("%dxx", m.status/100))
	}
	switch {
	case cr.err != nil:
		v.client = append(v.client, "malformed")
	case cr.cut:
		v.client = append(v.client, "cut")
	case cr.closed:
		v.client = append(v.client, "closed")
	default:
		v.client = append(v.client, "open")
	}
	for _, s := range snaps {
		for _, m := range s.msgs {
			hs := make([]string, 0, len(m.headers))
			for _, h := range m.headers {
				name := http.CanonicalHeaderKey(h.name)
				value := h.value
				if name == "Host" {
					value = "backend"
				}
				hs = append(hs, name+": "+value)
			}
			slices.SortStableFunc(hs, func(a, b string) int {
				an, _, _ := strings.Cut(a, ":")
				bn, _, _ := strings.Cut(b, ":")
				return strings.Compare(an, bn)
			})
			v.backend = append(v.backend, fmt.Sprintf("%s | %s | %s %q", m.line, strings.Join(hs, " | "), m.framing, m.body))
		}
		// A message cut by the proxy (partial, then closed) counts as none: whether
		// its head left before the proxy met the fault in its body is a race even
		// within one engine (the request table's partialOK rows). One left open is
		// an outcome of its own.
		switch {
		case s.err != nil:
			v.backend = append(v.backend, "malformed")
		case len(s.partial()) > 0 && !s.closed:
			v.backend = append(v.backend, "partial, left open")
		}
	}
	return v
}
