package enginetest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/accesslog"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// accessLines are the JSON access log lines written to dst so far, keyed by target.
func accessLines(t *testing.T, dst *testutil.SyncBuffer) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for line := range strings.SplitSeq(strings.TrimSpace(dst.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access log line is not one JSON object: %q: %v", line, err)
		}
		target, _ := m["target"].(string)
		if _, dup := out[target]; dup {
			t.Fatalf("two access log lines for %q", target)
		}
		out[target] = m
	}
	return out
}

// TestAccessLogAgrees: every request a client makes gets one access log line, the
// same on both engines (but for its duration and the engine's name): the status and
// body bytes the proxy answered with, the member, attempts and whose fault a failure
// was.
// The proxy's own /healthz is not logged.
func TestAccessLogAgrees(t *testing.T) {
	cases := []struct {
		target string
		req    string // the raw request; "" for GET target
		// want holds fields the line must have (numbers as JSON decodes them).
		want map[string]any
	}{
		{"/ok?x=1", "", map[string]any{"method": "GET", "status": 200.0, "bytes": 5.0, "attempts": 1.0, "fault": "none", "color": "blue"}},
		{"/ok?head", "HEAD /ok?head HTTP/1.1\r\nHost: t\r\n\r\n", map[string]any{"method": "HEAD", "status": 200.0, "bytes": 0.0}},
		{"/missing", "", map[string]any{"status": 404.0, "bytes": 5.0, "fault": "none"}},
		{"/big", "", map[string]any{"status": 200.0, "bytes": 100000.0}},
		{"/bad-gateway", "", map[string]any{"status": 502.0, "fault": "backend", "attempts": 1.0}},
		{"/chunk", "POST /chunk HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
			map[string]any{"method": "POST", "status": 400.0, "fault": "client"}},
		{`/q?v=%0d%0a"quoted"`, "", map[string]any{"status": 404.0}},
		{"/truncated", "", map[string]any{"status": 200.0, "bytes": 10.0, "fault": "backend"}},
		{"/slow", "", map[string]any{"status": 0.0, "bytes": 0.0, "fault": "client"}},
	}
	got := map[string]map[string]map[string]any{}
	forEachEngine(t, func(t *testing.T, engine string) {
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/ok":
				_, _ = io.WriteString(w, "hello")
			case "/big":
				_, _ = w.Write(make([]byte, 100000))
			case "/bad-gateway":
				http.Error(w, "upstream of the upstream failed", http.StatusBadGateway)
			case "/truncated": // a head promising 100 bytes, 10 of them, then the end
				w.Header().Set("Content-Length", "100")
				_, _ = io.WriteString(w, "ten bytes.")
				w.(http.Flusher).Flush()
				c, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					c.Close()
				}
			case "/slow":
				select { // until the proxy gives up on it, after the client left
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			default:
				_, _ = io.Copy(io.Discard, r.Body)
				http.Error(w, "nope", http.StatusNotFound)
			}
		}))
		t.Cleanup(be.Close)
		dst := &testutil.SyncBuffer{}
		log := accesslog.New(dst, "json", 0, 5*time.Millisecond)
		t.Cleanup(func() { _ = log.Close() })
		p := newTestProxy(t, engine, proxy.Options{AccessLog: log},
			proxy.BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, be.URL)}})
		ready := &server.Readiness{Check: p.Ready}
		ready.Set(true)
		front := newFrontReady(t, p, ready)

		send := func(raw string) {
			t.Helper()
			c, err := net.Dial("tcp", front.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, raw); err != nil {
				t.Fatal(err)
			}
			method, _, _ := strings.Cut(raw, " ")
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
			if err != nil {
				if strings.Contains(raw, "/truncated") {
					return // net/http drops the buffered head of a response that breaks off
				}
				t.Fatalf("%q: %v", raw, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
		for _, tc := range cases {
			raw := tc.req
			if raw == "" {
				raw = "GET " + tc.target + " HTTP/1.1\r\nHost: t\r\n\r\n"
			}
			if tc.target == "/slow" {
				// The client leaves before any answer.
				c, err := net.Dial("tcp", front.Addr)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.WriteString(c, raw)
				proxytest.WaitFor(t, "the slow request to reach the proxy", 5*time.Second, func() bool { return member(t, p, "blue", 0).InFlight > 0 })
				c.Close()
				continue
			}
			send(raw)
		}
		proxytest.WaitFor(t, "an access log line per request", 10*time.Second, func() bool { return len(accessLines(t, dst)) >= len(cases) })
		lines := accessLines(t, dst)
		if len(lines) != len(cases) {
			t.Fatalf("%d access log lines, want %d (one per request, none for /healthz): %v", len(lines), len(cases), lines)
		}
		for _, tc := range cases {
			line, ok := lines[tc.target]
			if !ok {
				t.Fatalf("no access log line for %q; have %v", tc.target, lines)
			}
			for k, v := range tc.want {
				if line[k] != v {
					t.Errorf("%s: %s = %v, want %v (line %v)", tc.target, k, line[k], v, line)
				}
			}
			if line["client"] != "127.0.0.1" || line["msg"] != "access" {
				t.Errorf("%s: client %v, msg %v, want 127.0.0.1, access", tc.target, line["client"], line["msg"])
			}
			if line["status"] != 0.0 && line["status"] != 400.0 && line["member"] != be.URL {
				t.Errorf("%s: member %v, want %s", tc.target, line["member"], be.URL)
			}
			delete(line, "time")
			delete(line, "duration_ms")
			delete(line, "engine")
			delete(line, "member") // each engine's own backend server
		}
		if n, _ := p.AccessLogDropped(); n != 0 {
			t.Errorf("%d access log lines dropped", n)
		}
		got[engine] = lines
	})
	ref := got[proxy.EngineNetHTTP]
	for engine, lines := range got {
		for target, line := range lines {
			a, _ := json.Marshal(line)
			b, _ := json.Marshal(ref[target])
			if string(a) != string(b) {
				t.Errorf("%s logs %s as %s; nethttp as %s", engine, target, a, b)
			}
		}
	}
}
