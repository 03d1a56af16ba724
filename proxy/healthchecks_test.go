package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

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
	p := proxytest.NewProxy(t, proxy.Options{HealthTimeout: 100 * time.Millisecond},
		proxy.BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, srv.URL+"/maintenance/myapp/")}})
	for _, c := range []struct {
		status int32
		up     bool
	}{{200, true}, {500, false}, {404, true}, {503, false}, {301, true}, {999, false}, {204, true}} {
		status.Store(c.status)
		p.CheckNow(context.Background())
		if up := p.Status().Backends[0].Members[0].Up; up != c.up || (p.Ready() == nil) != c.up {
			t.Errorf("health answer %d: up=%v ready=%v, want %v", c.status, up, p.Ready(), c.up)
		}
	}
}
