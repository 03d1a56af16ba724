package serve

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// TestServeDrainZeroFailed cancels Serve's context (what SIGTERM does in the binary)
// under load with slow requests in flight: /readyz fails at once, requests keep being
// served during the drain, in-flight slow requests finish, and nothing fails.
func TestServeDrainZeroFailed(t *testing.T) {
	engines := []string{proxy.EngineNetHTTP}
	if runtime.GOOS == "linux" {
		engines = append(engines, proxy.EngineEpoll)
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testServeDrain(t, engine) })
	}
}

func testServeDrain(t *testing.T, engine string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
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
	slow := &url.URL{Scheme: "http", Host: bl.Addr().String()}

	p := proxy.New(proxy.Options{Logger: proxytest.QuietLogger(), Hostname: "h", HealthInterval: 100 * time.Millisecond})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	adminLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	var ready server.Readiness
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, p, Config{
			Engine: engine, Listener: ln, AdminListener: adminLn, Ready: &ready,
			Provider: &proxy.StaticProvider{Load: func() ([]proxy.BackendSpec, error) {
				return []proxy.BackendSpec{{Name: "BLUE", Weight: 1, Members: []*url.URL{slow}}}, nil
			}},
			Drain: 1500 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		})
	}()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	proxytest.WaitFor(t, "ready", 2*time.Second, func() bool {
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
	proxytest.WaitFor(t, "readiness to fail", 3*time.Second, func() bool { return ready.Err() != nil })
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
}

// TestServeProviderFailure: a provider that cannot start stops Serve with its error.
func TestServeProviderFailure(t *testing.T) {
	p := proxy.New(proxy.Options{Logger: proxytest.QuietLogger()})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	err := Serve(context.Background(), p, Config{Listener: ln, Provider: &proxy.StaticProvider{
		Load: func() ([]proxy.BackendSpec, error) { return []proxy.BackendSpec{{Name: "BLUE", Weight: -1}}, nil },
	}})
	if err == nil || err.Error() != "provider: backend BLUE: weight -1: must be an integer 0-10000" {
		t.Fatalf("Serve = %v", err)
	}
}

// TestServeProviderOutlivesDrain: after Serve's context ends, the provider (and with
// it the health checks, on the same context) keeps running through the drain and
// stops only once the proxy stopped serving.
func TestServeProviderOutlivesDrain(t *testing.T) {
	p := proxy.New(proxy.Options{Logger: proxytest.QuietLogger()})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	prov := &ctxProvider{started: make(chan context.Context, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	var ready server.Readiness
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, p, Config{Engine: proxy.EngineNetHTTP, Listener: ln, Provider: prov, Ready: &ready,
			Drain: 500 * time.Millisecond, ShutdownTimeout: time.Second})
	}()
	provCtx := <-prov.started
	cancel()
	proxytest.WaitFor(t, "readiness to fail (the drain begun)", 2*time.Second, func() bool { return ready.Err() != nil })
	if err := provCtx.Err(); err != nil {
		t.Fatalf("provider's context ended with Serve's, before the drain: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if provCtx.Err() == nil {
		t.Fatal("provider still running after Serve returned")
	}
}

// ctxProvider applies one backend and hands its context to the test.
type ctxProvider struct{ started chan context.Context }

func (c *ctxProvider) Run(ctx context.Context, apply func([]proxy.BackendSpec) error) error {
	if err := apply([]proxy.BackendSpec{{Name: "BLUE", Weight: 1, Members: []*url.URL{{Scheme: "http", Host: "127.0.0.1:1"}}}}); err != nil {
		return err
	}
	c.started <- ctx
	<-ctx.Done()
	return ctx.Err()
}
