package enginetest

import (
	"context"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// TestPassiveEjectionRetryRecovery kills a backend (active checks off): every GET still
// succeeds through the retry, the member is ejected after MaxFails failures so retries
// stop, and after the cool-down the restarted backend takes its share again.
func TestPassiveEjectionRetryRecovery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b1, g1 := proxytest.NewBackend(t, "b1"), proxytest.NewBackend(t, "g1")
		p := newTestProxy(t, engine, proxy.Options{MaxFails: 3, FailTimeout: 1500 * time.Millisecond}, proxytest.Spec("BLUE", 1, b1), proxytest.Spec("GREEN", 1, g1))
		front := newFront(t, p)
		client := front.Client()

		b1.Stop()
		for i := range 40 {
			if code, e, _ := proxytest.Get(t, client, front.URL+"/k", nil); code != 200 || e.Backend != "g1" {
				t.Fatalf("request %d with b1 dead: %d from %q, want 200 from g1", i, code, e.Backend)
			}
		}
		if m := member(t, p, "blue", 0); m.Up || m.Ejections != 1 {
			t.Fatalf("b1 up=%v ejections=%d, want ejected once", m.Up, m.Ejections)
		}
		if r := p.Status().Retries; r != 3 {
			t.Errorf("retries = %d, want exactly MaxFails=3 (then b1 is out of rotation)", r)
		}
		if p.Ready() != nil {
			t.Error("not ready although GREEN is healthy")
		}

		b1.Restart()
		proxytest.WaitFor(t, "b1 back after the cool-down", 5*time.Second, func() bool { return member(t, p, "blue", 0).Up })
		counts := map[string]int{}
		for range 100 {
			code, e, _ := proxytest.Get(t, client, front.URL+"/", nil)
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
		b1, g1 := proxytest.NewBackend(t, "b1"), proxytest.NewBackend(t, "g1")
		p := newTestProxy(t, engine, proxy.Options{HealthInterval: 50 * time.Millisecond, HealthTimeout: 200 * time.Millisecond, MaxFails: 1000},
			proxytest.Spec("BLUE", 4, b1), proxytest.Spec("GREEN", 1, g1))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = p.Run(ctx) }()
		front := newFront(t, p)

		up := func() bool { return member(t, p, "blue", 0).Up }
		b1.Stop()
		proxytest.WaitFor(t, "active check to mark b1 down", 5*time.Second, func() bool { return !up() })
		for range 20 {
			if code, e, _ := proxytest.Get(t, front.Client(), front.URL+"/", nil); code != 200 || e.Backend != "g1" {
				t.Fatalf("with b1 down: %d from %q", code, e.Backend)
			}
		}
		st := p.Status()
		if st.Backends[0].Available || st.Backends[0].Members[0].ActiveHealthy || st.Backends[1].Share != 1 {
			t.Errorf("status while down: %+v", st.Backends)
		}
		b1.Restart()
		proxytest.WaitFor(t, "active check to mark b1 up", 5*time.Second, up)
		counts := map[string]int{}
		for range 50 {
			_, e, _ := proxytest.Get(t, front.Client(), front.URL+"/", nil)
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
		bad, good := proxytest.NewBackend(t, "bad"), proxytest.NewBackend(t, "good")
		bad.Status.Store(502)
		p := newTestProxy(t, engine, proxy.Options{MaxFails: 1000}, proxytest.Spec("BLUE", 1, bad), proxytest.Spec("GREEN", 1, good))
		front := newFront(t, p)
		for range 10 {
			if code, e, _ := proxytest.Get(t, front.Client(), front.URL+"/", nil); code != 200 || e.Backend != "good" {
				t.Fatalf("got %d from %q, want 200 from good", code, e.Backend)
			}
		}
		if r := p.Status().Retries; r != 5 || bad.Hits.Load() != 5 {
			t.Fatalf("retries %d bad hits %d, want 5 and 5", r, bad.Hits.Load())
		}
		good.Status.Store(502)
		before := bad.Hits.Load() + good.Hits.Load()
		if code, _, _ := proxytest.Get(t, front.Client(), front.URL+"/", nil); code != 502 {
			t.Fatalf("all failing: status %d, want 502", code)
		}
		if n := bad.Hits.Load() + good.Hits.Load() - before; n != 2 {
			t.Fatalf("all failing: %d attempts, want 2 (one retry)", n)
		}
	})
}
