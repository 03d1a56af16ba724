package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/internal/testutil"
)

// TestServeDrainZeroFailed cancels Serve's context (what SIGTERM does in the binary)
// under load with slow requests in flight: /readyz fails at once, requests keep being
// served during the drain, in-flight slow requests finish, and nothing fails.
func TestServeDrainZeroFailed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		slow := &backend{t: t, name: "slow"}
		mux := http.NewServeMux()
		mux.Handle("/", slow.handler())
		mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(600 * time.Millisecond)
			_, _ = io.WriteString(w, "slow done")
		})
		bl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		bsrv := &http.Server{Handler: mux}
		go func() { _ = bsrv.Serve(bl) }()
		defer bsrv.Close()
		slow.addr = bl.Addr().String()

		p := New(Options{Engine: engine, Logger: quietLogger(), Hostname: "h", HealthInterval: 100 * time.Millisecond})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		adminLn, _ := net.Listen("tcp", "127.0.0.1:0")
		ctx, cancel := context.WithCancel(context.Background())
		var ready server.Readiness
		done := make(chan error, 1)
		go func() {
			done <- p.Serve(ctx, ServeConfig{
				Listener: ln, AdminListener: adminLn, Ready: &ready,
				Provider: &StaticProvider{Load: func() ([]BackendSpec, error) {
					return []BackendSpec{spec("BLUE", 1, slow)}, nil
				}},
				Drain: 1500 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
			})
		}()
		base := "http://" + ln.Addr().String()
		client := &http.Client{Timeout: 5 * time.Second}
		waitFor(t, "ready", 2*time.Second, func() bool {
			resp, err := client.Get(base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})

		var tally testutil.Tally
		do := func(path string) { tally.Get(client, base+path) }
		stop := make(chan struct{})
		var wg sync.WaitGroup
		tally.Load(&wg, stop, 6, client, base+"/fast")
		for range 4 {
			wg.Go(func() { do("/slow") }) // in flight across the cancel
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
		waitFor(t, "readiness to fail", 3*time.Second, func() bool { return ready.Err() != nil })
		resp, err := client.Get(base + "/readyz")
		if err != nil || resp.StatusCode != 503 {
			t.Errorf("/readyz during drain: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		// A peer polling /readyz stops sending soon after; the drain outlasts that.
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		ok, failed := tally.OK.Load(), tally.Failed.Load()
		t.Logf("ok=%d failed=%d", ok, failed)
		if failed != 0 || ok < 10 {
			t.Fatalf("ok=%d failed=%d (first: %v)", ok, failed, tally.FirstErr())
		}
	})
}

// TestServeProviderFailure: a provider that cannot start stops Serve with its error.
func TestServeProviderFailure(t *testing.T) {
	p := New(Options{Logger: quietLogger()})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	err := p.Serve(context.Background(), ServeConfig{Listener: ln, Provider: &StaticProvider{
		Load: func() ([]BackendSpec, error) { return []BackendSpec{{Name: "BLUE", Weight: -1}}, nil },
	}})
	if err == nil || err.Error() != "provider: backend BLUE: weight -1: must be an integer 0-10000" {
		t.Fatalf("Serve = %v", err)
	}
}

// TestStaticProviderReload: a bad reload keeps the running configuration.
func TestStaticProviderReload(t *testing.T) {
	b, g := newBackend(t, "b"), newBackend(t, "g")
	p := New(Options{Logger: quietLogger()})
	reload := make(chan struct{})
	type result struct {
		specs []BackendSpec
		err   error
	}
	results := make(chan result, 1)
	results <- result{specs: []BackendSpec{spec("BLUE", 1, b)}}
	prov := &StaticProvider{Logger: quietLogger(), Reload: reload, Load: func() ([]BackendSpec, error) {
		r := <-results
		return r.specs, r.err
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- prov.Run(ctx, p.Apply) }()
	set := func(s []BackendSpec, err error) {
		reload <- struct{}{}
		results <- result{s, err}
	}
	set([]BackendSpec{spec("BLUE", 0, b)}, nil) // all weights 0: refused by apply
	set(nil, io.ErrUnexpectedEOF)               // unreadable config: refused by load
	set([]BackendSpec{spec("BLUE", 1, b), spec("GREEN", 3, g)}, nil)
	waitFor(t, "good reload", time.Second, func() bool {
		s := p.snap.Load()
		return s != nil && weightList(s.specs) == "BLUE=1 GREEN=3"
	})
	if p.stats.reloadsBad.Load() != 1 || p.stats.reloadsOK.Load() != 2 {
		t.Errorf("applies ok=%d bad=%d, want 2 and 1", p.stats.reloadsOK.Load(), p.stats.reloadsBad.Load())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
