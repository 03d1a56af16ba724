package enginetest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

func TestAdminCreateUpdateDelete(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b, g, c := proxytest.NewBackend(t, "b"), proxytest.NewBackend(t, "g"), proxytest.NewBackend(t, "c")
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, b), proxytest.Spec("GREEN", 1, g))
		admin := httptest.NewServer(p.AdminHandler())
		defer admin.Close()
		front := newFront(t, p)

		if code, body := proxytest.AdminDo(t, admin, "PUT", "/backends/canary", `{"url": "http://`+c.Addr+`"}`); code != 200 || !strings.Contains(body, `"weight": 1`) {
			t.Fatalf("create canary: %d %s", code, body)
		}
		if code, body := proxytest.AdminDo(t, admin, "PUT", "/backends/BLUE", `{"weight": 2}`); code != 200 || !strings.Contains(body, `"weight": 2`) {
			t.Fatalf("weight only: %d %s", code, body)
		}
		if code, body := proxytest.AdminDo(t, admin, "DELETE", "/backends/green", ``); code != 200 {
			t.Fatalf("delete green: %d %s", code, body)
		}
		counts := map[string]int{}
		for range 30 {
			_, e, _ := proxytest.Get(t, front.Client(), front.URL+"/", nil)
			counts[e.Color]++
		}
		if counts["blue"] != 20 || counts["canary"] != 10 || counts["green"] != 0 {
			t.Fatalf("after edits %v, want blue 20 canary 10", counts)
		}
		// The member of BLUE kept its identity (and statistics) across the weight change.
		if got := member(t, p, "blue", 0).Requests; got != 20 {
			t.Errorf("BLUE member requests = %d, want 20 (stats survive edits)", got)
		}
		code, body := proxytest.AdminDo(t, admin, "GET", "/backends", "")
		var views []proxy.BackendView
		if code != 200 || json.Unmarshal([]byte(body), &views) != nil || len(views) != 2 || views[0].Name != "BLUE" || views[1].Name != "CANARY" {
			t.Fatalf("GET /backends: %d %s", code, body)
		}
	})
}

// TestAdminWeightChangeUnderLoad hammers the proxy from many goroutines while weights
// (and a colour's existence) change through the admin API: zero failed requests.
func TestAdminWeightChangeUnderLoad(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b, g, c := proxytest.NewBackend(t, "b"), proxytest.NewBackend(t, "g"), proxytest.NewBackend(t, "c")
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 4, b), proxytest.Spec("GREEN", 1, g))
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
			{"PUT", "/backends/canary", `{"url": "http://` + c.Addr + `", "weight": 2}`},
			{"PUT", "/backends/blue", `{"weight": 1}`},
			{"DELETE", "/backends/green", ``},
			{"PUT", "/backends/green", `{"url": "http://` + g.Addr + `", "weight": 3}`},
			{"PUT", "/backends/canary", `{"weight": 0}`},
		}
		for round := range 6 {
			for _, e := range edits {
				if code, body := proxytest.AdminDo(t, admin, e.method, e.path, e.body); code != 200 {
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
		b, g := proxytest.NewBackend(t, "b"), proxytest.NewBackend(t, "g")
		g.Status.Store(500)
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, b), proxytest.Spec("GREEN", 1, g))
		front := newFront(t, p)
		admin := httptest.NewServer(p.AdminHandler())
		defer admin.Close()
		for range 10 {
			proxytest.Get(t, front.Client(), front.URL+"/", nil)
		}
		code, body := proxytest.AdminDo(t, admin, "GET", "/status", "")
		var st proxy.Status
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
		// Both engines feed the per colour × platform statistics (members without a
		// platform: "unknown").
		if len(st.Groups) != 2 || st.Groups[0].Color != "blue" || st.Groups[0].Platform != proxy.UnknownPlatform ||
			st.Groups[0].Total.OK != 5 || st.Groups[1].Total.Errors5xx != 5 || st.Groups[1].Recent.Requests != 5 {
			t.Errorf("groups: %+v", st.Groups)
		}
		code, body = proxytest.AdminDo(t, admin, "GET", "/metrics", "")
		for _, want := range []string{
			"archway_requests_total 10\n",
			`archway_backend_weight{color="blue"} 1`,
			`archway_backend_up{color="green",member="http://` + g.Addr + `"} 1`,
			`archway_backend_responses_total{color="green",member="http://` + g.Addr + `",code="5xx"} 5`,
			`archway_backend_request_duration_seconds_count{color="blue",member="http://` + b.Addr + `"} 5`,
			`archway_backend_request_duration_seconds_bucket{color="blue",member="http://` + b.Addr + `",le="+Inf"} 5`,
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
