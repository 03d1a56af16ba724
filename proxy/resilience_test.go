package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPassiveEjectionRetryRecovery kills a backend (active checks off): every GET still
// succeeds through the retry, the member is ejected after MaxFails failures so retries
// stop, and after the cool-down the restarted backend takes its share again.
func TestPassiveEjectionRetryRecovery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b1, g1 := newBackend(t, "b1"), newBackend(t, "g1")
		p := newTestProxy(t, Options{Engine: engine, MaxFails: 3, FailTimeout: 1500 * time.Millisecond}, spec("BLUE", 1, b1), spec("GREEN", 1, g1))
		front := newFront(t, p)
		client := front.Client()

		b1.stop()
		for i := range 40 {
			if code, e, _ := get(t, client, front.URL+"/k", nil); code != 200 || e.Backend != "g1" {
				t.Fatalf("request %d with b1 dead: %d from %q, want 200 from g1", i, code, e.Backend)
			}
		}
		m := p.snap.Load().byName["blue"].members[0]
		if m.up.Load() || m.stats.ejects.Load() != 1 {
			t.Fatalf("b1 up=%v ejections=%d, want ejected once", m.up.Load(), m.stats.ejects.Load())
		}
		if r := p.stats.retries.Load(); r != 3 {
			t.Errorf("retries = %d, want exactly MaxFails=3 (then b1 is out of rotation)", r)
		}
		if p.Ready() != nil {
			t.Error("not ready although GREEN is healthy")
		}

		b1.restart()
		waitFor(t, "b1 back after the cool-down", 5*time.Second, m.up.Load)
		counts := map[string]int{}
		for range 100 {
			code, e, _ := get(t, client, front.URL+"/", nil)
			if code != 200 {
				t.Fatalf("status %d after recovery", code)
			}
			counts[e.Backend]++
		}
		if counts["b1"] != 50 || counts["g1"] != 50 {
			t.Fatalf("after recovery %v, want 50/50", counts)
		}
	})
}

// TestActiveHealthEjectsAndRecovers: with active checks, a killed backend is taken out
// by the checker, and put back when it answers again.
func TestActiveHealthEjectsAndRecovers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b1, g1 := newBackend(t, "b1"), newBackend(t, "g1")
		p := newTestProxy(t, Options{Engine: engine, HealthInterval: 50 * time.Millisecond, HealthTimeout: 200 * time.Millisecond, MaxFails: 1000},
			spec("BLUE", 4, b1), spec("GREEN", 1, g1))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = p.Run(ctx) }()
		front := newFront(t, p)

		m := p.snap.Load().byName["blue"].members[0]
		b1.stop()
		waitFor(t, "active check to mark b1 down", 5*time.Second, func() bool { return !m.up.Load() })
		for range 20 {
			if code, e, _ := get(t, front.Client(), front.URL+"/", nil); code != 200 || e.Backend != "g1" {
				t.Fatalf("with b1 down: %d from %q", code, e.Backend)
			}
		}
		st := p.Status()
		if st.Backends[0].Available || st.Backends[0].Members[0].ActiveHealthy || st.Backends[1].Share != 1 {
			t.Errorf("status while down: %+v", st.Backends)
		}
		b1.restart()
		waitFor(t, "active check to mark b1 up", 5*time.Second, m.up.Load)
		counts := map[string]int{}
		for range 50 {
			_, e, _ := get(t, front.Client(), front.URL+"/", nil)
			counts[e.Backend]++
		}
		if counts["b1"] != 40 || counts["g1"] != 10 {
			t.Fatalf("after recovery %v, want the 4:1 split 40/10", counts)
		}
	})
}

// TestRetryOn502: an idempotent request answered 502 by one colour is retried once on
// another; when every colour answers 502 the client gets the backend's 502, once.
func TestRetryOn502(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		bad, good := newBackend(t, "bad"), newBackend(t, "good")
		bad.status.Store(502)
		p := newTestProxy(t, Options{Engine: engine, MaxFails: 1000}, spec("BLUE", 1, bad), spec("GREEN", 1, good))
		front := newFront(t, p)
		for range 10 {
			if code, e, _ := get(t, front.Client(), front.URL+"/", nil); code != 200 || e.Backend != "good" {
				t.Fatalf("got %d from %q, want 200 from good", code, e.Backend)
			}
		}
		if p.stats.retries.Load() != 5 || bad.hits.Load() != 5 {
			t.Fatalf("retries %d bad hits %d, want 5 and 5", p.stats.retries.Load(), bad.hits.Load())
		}
		good.status.Store(502)
		before := bad.hits.Load() + good.hits.Load()
		if code, _, _ := get(t, front.Client(), front.URL+"/", nil); code != 502 {
			t.Fatalf("all failing: status %d, want 502", code)
		}
		if n := bad.hits.Load() + good.hits.Load() - before; n != 2 {
			t.Fatalf("all failing: %d attempts, want 2 (one retry)", n)
		}
	})
}

// TestActiveCheckVerdicts: below 500 is up (a static site without /healthz answers 404),
// 5xx and timeouts are down.
func TestActiveCheckVerdicts(t *testing.T) {
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Header.Get("User-Agent") != "archway-proxy-health" {
			t.Errorf("health check request %s UA %q", r.URL.Path, r.Header.Get("User-Agent"))
		}
		if s := status.Load(); s == 999 {
			time.Sleep(300 * time.Millisecond)
		} else {
			w.WriteHeader(int(s))
		}
	}))
	defer srv.Close()
	p := newTestProxy(t, Options{HealthTimeout: 100 * time.Millisecond},
		BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{mustURL(t, srv.URL+"/maintenance/myapp/")}})
	m := p.snap.Load().colours[0].members[0]
	for _, c := range []struct {
		status int32
		up     bool
	}{{200, true}, {500, false}, {404, true}, {503, false}, {301, true}, {999, false}, {204, true}} {
		status.Store(c.status)
		p.CheckNow(context.Background())
		if m.up.Load() != c.up || (p.Ready() == nil) != c.up {
			t.Errorf("health answer %d: up=%v ready=%v, want %v", c.status, m.up.Load(), p.Ready(), c.up)
		}
	}
}
