package socketrelay

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var cannedBodies = map[string]string{
	"/services": `[{"ID":"svc1","Spec":{"Name":"app_blue"}}]`,
	"/tasks":    `[{"ID":"t1","ServiceID":"svc1"}]`,
	"/nodes":    `[{"ID":"n1"}]`,
}

// TestAllowedPassThrough sends each allowed call to the relay and to the engine directly:
// status, body and the headers a client reads must be the same.
func TestAllowedPassThrough(t *testing.T) {
	engine := newFakeEngine(t, cannedBodies)
	relay, logs := startRelay(t, engine.sock)
	cases := []struct{ method, target string }{
		{"HEAD", "/_ping"},
		{"GET", "/_ping"},
		{"GET", "/v1.41/_ping"},
		{"GET", "/services"},
		{"GET", "/v1.41/services?filters=%7B%22label%22%3A%7B%22archway.color%22%3Atrue%7D%7D"},
		{"GET", "/v1.51/tasks?filters=%7B%22desired-state%22%3A%7B%22running%22%3Atrue%7D%7D"},
		{"GET", "/v1.41/nodes"},
		{"GET", "/nodes"},
	}
	for _, c := range cases {
		raw := c.method + " " + c.target + " HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: close\r\n\r\n"
		want, wantBody := rawDo(t, engine.sock, c.method, raw)
		got, gotBody := rawDo(t, relay, c.method, raw)
		if got.StatusCode != want.StatusCode || string(gotBody) != string(wantBody) {
			t.Errorf("%s %s: relay %d %q; engine %d %q", c.method, c.target, got.StatusCode, gotBody, want.StatusCode, wantBody)
		}
		if want.StatusCode != http.StatusOK {
			t.Errorf("%s %s: the fake engine answered %d; the case tests nothing", c.method, c.target, want.StatusCode)
		}
		for _, h := range []string{"Content-Type", "Api-Version", "Ostype", "Swarm", "Content-Length"} {
			if got.Header.Get(h) != want.Header.Get(h) {
				t.Errorf("%s %s: header %s: relay %q, engine %q", c.method, c.target, h, got.Header.Get(h), want.Header.Get(h))
			}
		}
	}
	// Each call reached the engine twice (directly and through the relay), unchanged.
	seen := map[string]int{}
	for _, r := range engine.requests() {
		seen[r]++
	}
	for _, c := range cases {
		if n := seen[c.method+" "+c.target]; n != 2 {
			t.Errorf("engine saw %s %s %d times; want 2 (direct and relayed)", c.method, c.target, n)
		}
	}
	if l := linesWith(logs, "refused"); len(l) > 0 {
		t.Errorf("refusals logged for allowed calls: %q", l)
	}
}

// TestEventsStream checks that an event reaches the client while the engine's response is
// still open, i.e. the relay does not buffer the stream.
func TestEventsStream(t *testing.T) {
	engine := newFakeEngine(t, nil)
	relay, _ := startRelay(t, engine.sock)
	resp, err := unixClient(relay).Get("http://docker/v1.41/events?filters=%7B%22type%22%3A%7B%22service%22%3Atrue%7D%7D")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() {
		l, _ := br.ReadString('\n')
		first <- l
	}()
	select {
	case l := <-first:
		if l != event1 {
			t.Fatalf("first event %q; want %q", l, event1)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s while the engine holds the stream open: the relay buffers")
	}
	engine.releaseStreams() // only now may the engine send the rest and finish
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != event2 {
		t.Fatalf("rest of stream %q, %v; want %q", rest, err, event2)
	}
}

// TestRefused sends what the relay must not forward, as raw bytes: each gets 403 with the
// engine's JSON error shape, one log line, and the engine never sees it.
func TestRefused(t *testing.T) {
	engine := newFakeEngine(t, cannedBodies)
	relay, logs := startRelay(t, engine.sock)
	const host = "Host: api.moby.localhost\r\nConnection: close\r\n"
	cases := []struct {
		name, method, raw, path, reason string
	}{
		{"create service", "POST", "POST /services/create HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", "/services/create", reasonNotListed},
		{"create service versioned", "POST", "POST /v1.41/services/create HTTP/1.1\r\n" + host + "Content-Length: 2\r\n\r\n{}", "/v1.41/services/create", reasonNotListed},
		{"list containers", "GET", "GET /containers/json HTTP/1.1\r\n" + host + "\r\n", "/containers/json", reasonNotListed},
		{"container logs", "GET", "GET /containers/abc/logs?stdout=1 HTTP/1.1\r\n" + host + "\r\n", "/containers/abc/logs", reasonNotListed},
		{"delete service", "DELETE", "DELETE /services/x HTTP/1.1\r\n" + host + "\r\n", "/services/x", reasonNotListed},
		{"dot-dot", "GET", "GET /services/../containers/json HTTP/1.1\r\n" + host + "\r\n", "/services/../containers/json", reasonUnclean},
		{"versioned dot-dot", "GET", "GET /v1.41/../containers/json HTTP/1.1\r\n" + host + "\r\n", "/v1.41/../containers/json", reasonUnclean},
		{"encoded slashes", "GET", "GET /services%2F..%2Fcontainers HTTP/1.1\r\n" + host + "\r\n", "/services%2F..%2Fcontainers", reasonEncoded},
		{"needless escape", "GET", "GET /servi%63es HTTP/1.1\r\n" + host + "\r\n", "/servi%63es", reasonEncoded},
		{"double slash", "GET", "GET //services HTTP/1.1\r\n" + host + "\r\n", "//services", reasonUnclean},
		{"versioned double slash", "GET", "GET /v1.41//services HTTP/1.1\r\n" + host + "\r\n", "/v1.41//services", reasonUnclean},
		{"trailing slash", "GET", "GET /services/ HTTP/1.1\r\n" + host + "\r\n", "/services/", reasonUnclean},
		{"service inspect", "GET", "GET /services/svc1 HTTP/1.1\r\n" + host + "\r\n", "/services/svc1", reasonNotListed},
		{"info", "GET", "GET /info HTTP/1.1\r\n" + host + "\r\n", "/info", reasonNotListed},
		{"version alone", "GET", "GET /v1.41 HTTP/1.1\r\n" + host + "\r\n", "/v1.41", reasonNotListed},
		{"version 2", "GET", "GET /v2.0/services HTTP/1.1\r\n" + host + "\r\n", "/v2.0/services", reasonNotListed},
		{"upper case", "GET", "GET /SERVICES HTTP/1.1\r\n" + host + "\r\n", "/SERVICES", reasonNotListed},
		{"head services", "HEAD", "HEAD /services HTTP/1.1\r\n" + host + "\r\n", "/services", reasonNotListed},
		{"put ping", "PUT", "PUT /_ping HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", "/_ping", reasonNotListed},
		{"absolute form", "GET", "GET http://docker/containers/json HTTP/1.1\r\n" + host + "\r\n", "/containers/json", reasonNotListed},
		{"upgrade", "GET", "GET /events HTTP/1.1\r\n" + host + "Upgrade: tcp\r\nConnection: Upgrade\r\n\r\n", "/events", reasonUpgrade},
		{"upgrade header alone", "GET", "GET /services HTTP/1.1\r\n" + host + "Upgrade: h2c\r\n\r\n", "/services", reasonUpgrade},
		{"connection upgrade alone", "GET", "GET /services HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n\r\n", "/services", reasonUpgrade},
		{"get with body", "GET", "GET /services HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello", "/services", reasonBody},
		{"get chunked", "GET", "GET /nodes HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "/nodes", reasonBody},
		{"exec start", "POST", "POST /exec/x/start HTTP/1.1\r\n" + host + "Upgrade: tcp\r\nConnection: Upgrade\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", "/exec/x/start", reasonNotListed},
	}
	for _, c := range cases {
		before := len(linesWith(logs, "refused"))
		resp, body := rawDo(t, relay, c.method, c.raw)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q %q; want 403 application/json", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		if c.method != "HEAD" {
			var e struct{ Message string }
			want := "archway socket relay: " + c.method + " " + c.path + " is not allowed; allowed: " + AllowList()
			if err := json.Unmarshal(body, &e); err != nil || e.Message != want {
				t.Errorf("%s: body %q (%v); want message %q", c.name, body, err, want)
			}
		}
		lines := linesWith(logs, "refused")[before:]
		if len(lines) != 1 || !strings.Contains(lines[0], "method="+c.method) ||
			!strings.Contains(lines[0], "path="+c.path) || !strings.Contains(lines[0], `reason="`+c.reason+`"`) {
			t.Errorf("%s: log %q; want one line with method=%s path=%s reason=%q", c.name, lines, c.method, c.path, c.reason)
		}
	}
	if seen := engine.requests(); len(seen) > 0 {
		t.Errorf("the engine saw refused requests: %q", seen)
	}
}

// TestRefusalDirect calls the handler with requests no HTTP server would build (nil URL,
// odd methods, huge paths): a refusal, not a panic, and the upstream is never called.
func TestRefusalDirect(t *testing.T) {
	h := Handler(roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("upstream called for %s %s", r.Method, r.URL)
		return nil, io.EOF
	}), slogDiscard())
	reqs := []*http.Request{
		{Method: "GET", Header: http.Header{}},
		{Method: "", URL: mustURL("/services"), Header: http.Header{"Transfer-Encoding": {"chunked"}}},
		{Method: "GET", URL: mustURL("services"), Header: http.Header{}},
		{Method: "GET", URL: mustURL(""), Header: http.Header{}},
		httptest.NewRequest("GET", "/"+strings.Repeat("a/", 10000), nil),
		httptest.NewRequest("GET", "/services", strings.NewReader("x")),
		httptest.NewRequest("CONNECT", "/services", nil),
		httptest.NewRequest("GET", "/_ping/../containers/json", nil),
	}
	for _, r := range reqs {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s %v: %d; want 403", r.Method, r.URL, w.Code)
		}
		if len(w.Body.String()) > 2*maxShown+len(AllowList())+100 {
			t.Errorf("%s: answer of %d bytes: the path should be cut", r.Method, w.Body.Len())
		}
	}
}

// FuzzRefusal: whatever the request line, the filter does not panic, and what it lets
// through is a clean, unescaped allow-listed path.
func FuzzRefusal(f *testing.F) {
	for _, s := range []string{"/_ping", "/v1.41/services", "/services/../containers/json", "/services%2F..", "//nodes", "/v1.9999/events", "/v1./tasks", "/%00"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		r, err := http.NewRequest(method, "http://docker"+target, nil)
		if err != nil {
			return
		}
		if refusal(r) == "" {
			p := r.URL.Path
			if r.URL.RawPath != "" || strings.ContainsAny(p, "%") || strings.Contains(p, "//") || strings.Contains(p, "..") || !allowed(r.Method, p) {
				t.Errorf("%s %q allowed", method, target)
			}
		}
	})
}
