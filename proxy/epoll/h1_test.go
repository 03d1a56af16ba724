package epoll

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestParseRequestHeadFastPath(t *testing.T) {
	raw := "GET /a/b?c=1 HTTP/1.1\r\nHost: shop.example:8080\r\nConnection: keep-alive, X-Drop\r\n" +
		"X-Drop: x\r\nTE: trailers, deflate\r\nCookie: sticky=green; other=1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\nGET /next"
	var r reqHead
	ok, fast := parseRequestHead([]byte(raw), headMax, &r)
	if !ok || !fast {
		t.Fatalf("ok=%v fast=%v, want a fast-path request", ok, fast)
	}
	if string(r.method) != "GET" || string(r.uri) != "/a/b?c=1" || string(r.path()) != "/a/b" || string(r.host) != "shop.example:8080" {
		t.Errorf("method %q uri %q path %q host %q", r.method, r.uri, r.path(), r.host)
	}
	if r.size != strings.Index(raw, "GET /next") || r.connClose || !r.teTrailers {
		t.Errorf("size %d connClose %v teTrailers %v", r.size, r.connClose, r.teTrailers)
	}
	if r.Cookie("sticky") != "green" || r.Header("x-drop") != "x" || r.Header("Missing") != "" {
		t.Errorf("cookie %q header %q", r.Cookie("sticky"), r.Header("x-drop"))
	}
	out := r.appendUpstream(nil, &upstreamHead{uri: r.uri, hostStr: "10.1.2.3:80", color: "blue", clientIP: []byte("192.0.2.9")})
	want := "GET /a/b?c=1 HTTP/1.1\r\nHost: 10.1.2.3:80\r\nCookie: sticky=green; other=1\r\n" +
		"X-Forwarded-For: 10.0.0.1, 192.0.2.9\r\nX-Forwarded-Host: shop.example:8080\r\nX-Forwarded-Proto: http\r\n" +
		"Color: blue\r\nTe: trailers\r\n\r\n"
	if string(out) != want {
		t.Errorf("upstream head:\n%q\nwant\n%q", out, want)
	}
}

// TestParseRequestHeadNotFast: everything the loops do not serve themselves goes to
// net/http, and a partial head asks for more bytes.
func TestParseRequestHeadNotFast(t *testing.T) {
	for name, raw := range map[string]string{
		"body (length)":     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"body (zero)":       "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"chunked":           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"upgrade":           "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"expect":            "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
		"HTTP/1.0":          "GET / HTTP/1.0\r\n\r\n",
		"HTTP/2 preface":    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"absolute form":     "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"asterisk":          "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"no host":           "GET / HTTP/1.1\r\n\r\n",
		"two hosts":         "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"odd host":          "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"space in target":   "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
		"bad escape":        "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"fragment":          "GET /#f HTTP/1.1\r\nHost: x\r\n\r\n",
		"space before :":    "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
		"obs-fold":          "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
		"control in value":  "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\x002\r\n\r\n",
		"bare LF":           "GET / HTTP/1.1\nHost: x\n\n",
		"bare LF partial":   "GET / HTTP/1.1\nHost: x",
		"bare CR":           "GET / HTTP/1.1\rHost: x\r\n\r\n",
		"lower-case proto":  "GET / http/1.1\r\nHost: x\r\n\r\n",
		"too large":         "GET /" + strings.Repeat("a", headMax) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"too large partial": "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", headMax),
	} {
		var r reqHead
		if ok, fast := parseRequestHead([]byte(raw), headMax, &r); ok || fast {
			t.Errorf("%s: ok=%v fast=%v, want it handed to net/http", name, ok, fast)
		}
	}
	var r reqHead
	if ok, fast := parseRequestHead([]byte("GET / HTTP/1.1\r\nHost: x\r\n"), headMax, &r); ok || !fast {
		t.Errorf("partial head: ok=%v fast=%v, want a request for more bytes", ok, fast)
	}
}

func TestParseResponseHeadFraming(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		head      bool
		mode      bodyMode
		length    int64
		close     bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, bodyLength, 5, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, bodyChunked, -1, false},
		{"chunked wins", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", false, bodyChunked, 5, false},
		{"until close", "HTTP/1.1 200 OK\r\n\r\n", false, bodyClose, -1, true},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, bodyNone, 5, false},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", false, bodyNone, -1, false},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, bodyNone, 9, false},
		{"100", "HTTP/1.1 100 Continue\r\n\r\n", false, bodyNone, -1, false},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, bodyLength, 0, true},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, bodyLength, 0, true},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false, bodyLength, 0, false},
	} {
		var r respHead
		ok, err := parseResponseHead([]byte(tc.raw), headMax, tc.head, &r)
		if !ok || err != nil || r.mode != tc.mode || r.length != tc.length || r.close != tc.close {
			t.Errorf("%s: ok=%v err=%v mode %d length %d close %v; want mode %d length %d close %v",
				tc.name, ok, err, r.mode, r.length, r.close, tc.mode, tc.length, tc.close)
		}
	}
	for name, raw := range map[string]string{
		"two lengths":  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"bad length":   "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"bad status":   "HTTP/1.1 2x0 OK\r\n\r\n",
		"not HTTP":     "SSH-2.0-OpenSSH\r\n\r\n",
		"bad header":   "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"too large":    "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", headMax),
		"status < 100": "HTTP/1.1 099 Odd\r\n\r\n",
		// What a client could frame differently than the proxy: 502, as net/http does.
		"bare LF in a value": "HTTP/1.1 200 OK\r\nX-A: one\nContent-Length: 0\r\n\r\n",
		"bare CR in a value": "HTTP/1.1 200 OK\r\nX-A: one\rContent-Length: 0\r\n\r\n",
		"NUL in a value":     "HTTP/1.1 200 OK\r\nX-A: o\x00ne\r\nContent-Length: 0\r\n\r\n",
		"obs-fold":           "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n",
		"signed length":      "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
		"non-numeric length": "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
		"length list":        "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
		"hex length":         "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
		"gzip, chunked":      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"chunked, gzip":      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"identity":           "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
		"two TE lines":       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"space before colon": "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
	} {
		var r respHead
		if ok, err := parseResponseHead([]byte(raw), headMax, false, &r); ok || err == nil {
			t.Errorf("%s: ok=%v err=%v, want an error", name, ok, err)
		}
	}
}

func TestAppendClientResponse(t *testing.T) {
	raw := "HTTP/1.1 201 Created\r\nConnection: keep-alive, X-Hop\r\nX-Hop: gone\r\nKeep-Alive: timeout=5\r\n" +
		"Transfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nTrailer: X-Sum\r\n\r\n"
	var r respHead
	if ok, err := parseResponseHead([]byte(raw), headMax, false, &r); !ok || err != nil {
		t.Fatal(ok, err)
	}
	got := string(r.appendClient(nil, &clientResponse{xproxy: "p1", setCookie: "archway=blue", date: []byte("D"), chunked: true, close: true}))
	want := "HTTP/1.1 201 Created\r\nX-Proxy: p1\r\nSet-Cookie: archway=blue\r\nSet-Cookie: a=1\r\nTrailer: X-Sum\r\n" +
		"Date: D\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	if got != want {
		t.Errorf("client head:\n%q\nwant\n%q", got, want)
	}
	if s := string(appendStatusLine(nil, 599)); s != "HTTP/1.1 599 status code 599\r\n" {
		t.Errorf("unknown status: %q", s)
	}
}

// chunkedBody is what net/http's chunked writer produces for parts, with trailers.
func chunkedBody(t testing.TB, parts []string, trailer string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := httputil.NewChunkedWriter(&b)
	for _, p := range parts {
		if _, err := io.WriteString(w, p); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Close()
	b.WriteString(trailer + "\r\n")
	return b.Bytes()
}

func TestChunkScannerFindsTheEnd(t *testing.T) {
	body := chunkedBody(t, []string{"hello", strings.Repeat("x", 5000), "!"}, "X-Sum: 42\r\n")
	body = append(body, "HTTP/1.1 200 OK\r\n"...) // the next message must not be taken
	for _, step := range []int{1, 2, 3, 7, 100, len(body)} {
		var cs chunkScanner
		total, done := 0, false
		for off := 0; off < len(body) && !done; off += step {
			part := body[off:min(off+step, len(body))]
			n, d, err := cs.scan(part)
			if err != nil {
				t.Fatalf("step %d: %v at %d", step, err, off+n)
			}
			total, done = total+n, d
		}
		if !done || total != len(body)-len("HTTP/1.1 200 OK\r\n") {
			t.Errorf("step %d: done=%v after %d bytes, want the end at %d", step, done, total, len(body)-17)
		}
	}
	for name, bad := range map[string]string{
		"no size":      "\r\n",
		"bad size":     "zz\r\n",
		"missing CRLF": "3\r\nabcX",
		"huge size":    "1000000000000000\r\n",
		"bare LF":      "3\nabc",
	} {
		var cs chunkScanner
		if _, _, err := cs.scan([]byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzH1Heads: the head parsers and the chunk scanner never panic, and a request the
// fast path accepts is one net/http reads the same way (method, target, Host).
func FuzzH1Heads(f *testing.F) {
	f.Add([]byte("GET /a?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: [::1]:80\r\nCookie: a=b\r\nTe: trailers\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r reqHead
		if ok, fast := parseRequestHead(b, 1024, &r); ok {
			if !fast {
				t.Fatal("ok but not fast")
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
			if err != nil {
				t.Fatalf("fast path took a request net/http refuses: %v", err)
			}
			if req.Method != string(r.method) || req.RequestURI != string(r.uri) || req.Host != string(r.host) {
				t.Fatalf("net/http reads %s %s host %q; fast path %s %s host %q", req.Method, req.RequestURI, req.Host, r.method, r.uri, r.host)
			}
			_ = r.appendUpstream(nil, &upstreamHead{uri: r.uri, host: r.host, color: "c", clientIP: []byte("ip")})
		}
		var rh respHead
		_, _ = parseResponseHead(b, 1024, false, &rh)
		var cs chunkScanner
		if n, _, _ := cs.scan(b); n > len(b) {
			t.Fatalf("scan consumed %d of %d bytes", n, len(b))
		}
	})
}

// TestBothFramingsKeepOne: a backend head with Content-Length and chunked reaches the
// client chunked only (net/http's client drops the length the same way).
func TestBothFramingsKeepOne(t *testing.T) {
	var r respHead
	raw := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n"
	if ok, err := parseResponseHead([]byte(raw), headMax, false, &r); !ok || err != nil || r.mode != bodyChunked {
		t.Fatalf("ok=%v err=%v mode %d", ok, err, r.mode)
	}
	got := string(r.appendClient(nil, &clientResponse{xproxy: "p", chunked: true}))
	want := "HTTP/1.1 200 OK\r\nX-Proxy: p\r\nX-A: b\r\nTransfer-Encoding: chunked\r\n\r\n"
	if got != want {
		t.Fatalf("client head\n got %q\nwant %q", got, want)
	}
}
