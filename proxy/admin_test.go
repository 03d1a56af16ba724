package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

func adminDo(t *testing.T, admin *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
	resp, err := admin.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminBadInputs(t *testing.T) {
	b, g := newBackend(t, "b"), newBackend(t, "g")
	p := newTestProxy(t, Options{}, spec("BLUE", 4, b), spec("GREEN", 1, g))
	admin := httptest.NewServer(p.AdminHandler())
	defer admin.Close()
	before := p.snap.Load()

	cases := []struct {
		method, path, body string
		code               int
		err                string
	}{
		{"PUT", "/backends/green", `{"weight": -1}`, 400, `weight="-1": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"weight": "3"}`, 400, `weight="3": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"weight": 2.5}`, 400, `weight="2.5": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"weight": 10001}`, 400, `weight="10001": weight must be <= 10000`},
		{"PUT", "/backends/green", `{"url": "htp://x:1"}`, 400, `url="htp://x:1": unsupported scheme "htp"; want http, https, dns+http or dns+https`},
		{"PUT", "/backends/green", `{"url": "http://:8080"}`, 400, `url="http://:8080": missing host; want http://host:port`},
		{"PUT", "/backends/green", `{"url": "http://x:99999"}`, 400, `url="http://x:99999": port "99999" out of range 1-65535`},
		{"PUT", "/backends/green", `{"url": 5}`, 400, `url=5: want a string like "http://host:port"`},
		{"PUT", "/backends/green", `{"url": "http://x:1", "weight": -2}`, 400, `weight="-2": weight must be an integer >= 0`},
		{"PUT", "/backends/green", `{"colour": "x"}`, 400, `body: unknown field "colour"; want "url" and/or "weight"`},
		{"PUT", "/backends/green", `{}`, 400, `body: empty object; want "url" and/or "weight"`},
		{"PUT", "/backends/green", `[1]`, 400, `body: invalid JSON (json: cannot unmarshal array into Go value of type map[string]json.RawMessage); want {"url": "http://host:port", "weight": N}`},
		{"PUT", "/backends/green", `{"weight":`, 400, `body: invalid JSON (unexpected end of JSON input); want {"url": "http://host:port", "weight": N}`},
		{"PUT", "/backends/bad%20name", `{"weight": 1}`, 400, `name="bad name": must match [A-Za-z][A-Za-z0-9_-]*`},
		{"PUT", "/backends/purple", `{"weight": 1}`, 404, `backend "PURPLE" not found; PUT {"url": ...} to create it`},
		{"DELETE", "/backends/purple", ``, 404, `backend "PURPLE" not found`},
		{"GET", "/backends/purple", ``, 404, `backend "PURPLE" not found`},
		{"PUT", "/backends/blue", `{"weight": 0}`, 200, ``}, // GREEN still has weight 1
		{"PUT", "/backends/green", `{"weight": 0}`, 409, `backends: every weight would be 0; at least one must be > 0 (BLUE=0 GREEN=0)`},
		{"DELETE", "/backends/green", ``, 409, `backends: every weight would be 0; at least one must be > 0 (BLUE=0)`},
		{"PUT", "/backends/blue", `{"weight": 4}`, 200, ``},
		{"POST", "/backends/blue", `{}`, 405, `method POST not allowed on /backends/blue`},
		{"GET", "/nope", ``, 404, `no such endpoint GET /nope`},
	}
	for _, c := range cases {
		code, body := adminDo(t, admin, c.method, c.path, c.body)
		if code != c.code {
			t.Errorf("%s %s %s: status %d, want %d (%s)", c.method, c.path, c.body, code, c.code, body)
			continue
		}
		if c.err == "" {
			continue
		}
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != c.err {
			t.Errorf("%s %s %s:\n got  %q\n want %q", c.method, c.path, c.body, e.Error, c.err)
		}
	}
	after := p.snap.Load()
	if weightList(after.specs) != weightList(before.specs) {
		t.Errorf("refused/undone changes altered the config: %s → %s", weightList(before.specs), weightList(after.specs))
	}
	// Deleting the last colour is refused even when it has weight.
	p2 := newTestProxy(t, Options{}, spec("BLUE", 1, b))
	admin2 := httptest.NewServer(p2.AdminHandler())
	defer admin2.Close()
	if code, body := adminDo(t, admin2, "DELETE", "/backends/BLUE", ""); code != 409 || !strings.Contains(body, `backend \"BLUE\" is the last one; refusing to delete it`) {
		t.Errorf("delete last: %d %s", code, body)
	}
}

func TestAdminCreateUpdateDelete(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b, g, c := newBackend(t, "b"), newBackend(t, "g"), newBackend(t, "c")
		p := newTestProxy(t, Options{Engine: engine}, spec("BLUE", 1, b), spec("GREEN", 1, g))
		admin := httptest.NewServer(p.AdminHandler())
		defer admin.Close()
		front := newFront(t, p)

		if code, body := adminDo(t, admin, "PUT", "/backends/canary", `{"url": "http://`+c.addr+`"}`); code != 200 || !strings.Contains(body, `"weight": 1`) {
			t.Fatalf("create canary: %d %s", code, body)
		}
		if code, body := adminDo(t, admin, "PUT", "/backends/BLUE", `{"weight": 2}`); code != 200 || !strings.Contains(body, `"weight": 2`) {
			t.Fatalf("weight only: %d %s", code, body)
		}
		if code, body := adminDo(t, admin, "DELETE", "/backends/green", ``); code != 200 {
			t.Fatalf("delete green: %d %s", code, body)
		}
		counts := map[string]int{}
		for range 30 {
			_, e, _ := get(t, front.Client(), front.URL+"/", nil)
			counts[e.Color]++
		}
		if counts["blue"] != 20 || counts["canary"] != 10 || counts["green"] != 0 {
			t.Fatalf("after edits %v, want blue 20 canary 10", counts)
		}
		// The member of BLUE kept its identity (and statistics) across the weight change.
		if got := p.snap.Load().byName["blue"].members[0].stats.requests.Load(); got != 20 {
			t.Errorf("BLUE member requests = %d, want 20 (stats survive edits)", got)
		}
		code, body := adminDo(t, admin, "GET", "/backends", "")
		var views []BackendView
		if code != 200 || json.Unmarshal([]byte(body), &views) != nil || len(views) != 2 || views[0].Name != "BLUE" || views[1].Name != "CANARY" {
			t.Fatalf("GET /backends: %d %s", code, body)
		}
	})
}

// TestAdminWeightChangeUnderLoad hammers the proxy from many goroutines while weights
// (and a colour's existence) change through the admin API: zero failed requests.
func TestAdminWeightChangeUnderLoad(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b, g, c := newBackend(t, "b"), newBackend(t, "g"), newBackend(t, "c")
		p := newTestProxy(t, Options{Engine: engine}, spec("BLUE", 4, b), spec("GREEN", 1, g))
		front := newFront(t, p)
		admin := httptest.NewServer(p.AdminHandler())
		defer admin.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		var tally testutil.Tally
		tally.Load(&wg, stop, 16, client, front.URL+"/load?x=1")
		edits := []struct{ method, path, body string }{
			{"PUT", "/backends/green", `{"weight": 4}`},
			{"PUT", "/backends/blue", `{"weight": 0}`},
			{"PUT", "/backends/canary", `{"url": "http://` + c.addr + `", "weight": 2}`},
			{"PUT", "/backends/blue", `{"weight": 1}`},
			{"DELETE", "/backends/green", ``},
			{"PUT", "/backends/green", `{"url": "http://` + g.addr + `", "weight": 3}`},
			{"PUT", "/backends/canary", `{"weight": 0}`},
		}
		for round := range 6 {
			for _, e := range edits {
				if code, body := adminDo(t, admin, e.method, e.path, e.body); code != 200 {
					t.Fatalf("round %d %s %s: %d %s", round, e.method, e.path, code, body)
				}
				time.Sleep(15 * time.Millisecond)
			}
		}
		close(stop)
		wg.Wait()
		ok, failed := tally.OK.Load(), tally.Failed.Load()
		t.Logf("requests ok=%d failed=%d during %d admin edits", ok, failed, 6*len(edits))
		if failed != 0 || ok < 100 {
			t.Fatalf("ok=%d failed=%d (first: %v), want zero failures", ok, failed, tally.FirstErr())
		}
	})
}

func TestStatusAndMetrics(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b, g := newBackend(t, "b"), newBackend(t, "g")
		g.status.Store(500)
		p := newTestProxy(t, Options{Engine: engine}, spec("BLUE", 1, b), spec("GREEN", 1, g))
		front := newFront(t, p)
		admin := httptest.NewServer(p.AdminHandler())
		defer admin.Close()
		for range 10 {
			get(t, front.Client(), front.URL+"/", nil)
		}
		code, body := adminDo(t, admin, "GET", "/status", "")
		var st Status
		if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
			t.Fatalf("/status: %d %s", code, body)
		}
		if st.Requests != 10 || len(st.Backends) != 2 {
			t.Fatalf("status: %+v", st)
		}
		blue, green := st.Backends[0].Members[0], st.Backends[1].Members[0]
		if blue.Requests != 5 || blue.Codes["2xx"] != 5 || green.Codes["5xx"] != 5 || blue.LatencyMS.P99 <= 0 || blue.InFlight != 0 {
			t.Errorf("member status: blue %+v green %+v", blue, green)
		}
		if blue.OpenConnections < 1 {
			t.Errorf("blue open upstream connections = %d, want the pooled keep-alive connection", blue.OpenConnections)
		}
		if st.Backends[0].Share != 0.5 {
			t.Errorf("share = %v", st.Backends[0].Share)
		}
		code, body = adminDo(t, admin, "GET", "/metrics", "")
		for _, want := range []string{
			"archway_requests_total 10\n",
			`archway_backend_weight{color="blue"} 1`,
			`archway_backend_up{color="green",member="http://` + g.addr + `"} 1`,
			`archway_backend_responses_total{color="green",member="http://` + g.addr + `",code="5xx"} 5`,
			`archway_backend_request_duration_seconds_count{color="blue",member="http://` + b.addr + `"} 5`,
			`archway_backend_request_duration_seconds_bucket{color="blue",member="http://` + b.addr + `",le="+Inf"} 5`,
			"# TYPE archway_backend_request_duration_seconds histogram",
		} {
			if code != 200 || !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		// Every sample line is well-formed exposition text.
		sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$`)
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			if !strings.HasPrefix(line, "# ") && !sample.MatchString(line) {
				t.Errorf("malformed metrics line %q", line)
			}
		}
	})
}

// FuzzAdminBody: any PUT body either parses into a valid patch or fails with one line.
func FuzzAdminBody(f *testing.F) {
	for _, s := range []string{`{"weight": 4}`, `{"url": "http://x:1"}`, `{"url": "dns+http://tasks.a:8080,http://b:2", "weight": 0}`, `[]`, `{"weight": 1e3}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		patch, err := parseBackendPatch([]byte(body))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if patch.urls == nil && patch.weight == nil {
			t.Fatalf("accepted empty patch from %q", body)
		}
		if patch.weight != nil && (*patch.weight < 0 || *patch.weight > MaxWeight) {
			t.Fatalf("accepted weight %d", *patch.weight)
		}
		if patch.urls != nil {
			if _, err := normalizeSpecs([]BackendSpec{{Name: "X", Weight: 1, Members: patch.urls}}); err != nil {
				t.Fatalf("accepted URLs the proxy refuses: %v", err)
			}
		}
	})
}
