package enginetest

import (
	"runtime"
	"sync"
	"testing"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/epoll"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
	"github.com/archwayhq/archway/proxy/nethttp"
)

// engines are the proxy engines every behaviour test runs against: nethttp first,
// the reference the other is compared with.
var engines = []string{proxy.EngineNetHTTP}

func init() {
	if runtime.GOOS == "linux" {
		engines = append(engines, proxy.EngineEpoll)
	}
}

// forEachEngine runs f as a subtest per engine.
func forEachEngine(t *testing.T, f func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e, func(t *testing.T) { f(t, e) })
	}
}

// engineOf remembers which engine a test proxy is to be served with.
var engineOf sync.Map // *proxy.Proxy → string

// newTestProxy is proxytest.NewProxy, to be served by engine (newFront).
func newTestProxy(t testing.TB, engine string, opts proxy.Options, specs ...proxy.BackendSpec) *proxy.Proxy {
	t.Helper()
	p := proxytest.NewProxy(t, opts, specs...)
	engineOf.Store(p, engine)
	t.Cleanup(func() { engineOf.Delete(p) })
	return p
}

func engineFor(p *proxy.Proxy) string {
	if e, ok := engineOf.Load(p); ok {
		return e.(string)
	}
	return proxy.DefaultEngine
}

// newFront serves p's proxying only (no /healthz, /readyz) for the nethttp engine, as
// httptest.NewServer of its handler does, and the full engine for epoll.
func newFront(t testing.TB, p *proxy.Proxy) *proxytest.Front {
	t.Helper()
	if engineFor(p) != proxy.EngineNetHTTP {
		ready := &server.Readiness{Check: p.Ready}
		ready.Set(true)
		return newFrontReady(t, p, ready)
	}
	return proxytest.ServeHandler(t, nethttp.New(p))
}

// newFrontReady serves p with /healthz and /readyz answered from ready.
func newFrontReady(t testing.TB, p *proxy.Proxy, ready *server.Readiness) *proxytest.Front {
	t.Helper()
	nh := nethttp.New(p)
	if e := engineFor(p); e == proxy.EngineEpoll {
		return proxytest.ServeEngine(t, e, epoll.New(p, nh, ready, 0))
	}
	return proxytest.ServeHandler(t, nh.Front(ready))
}

// member is the status of colour's i-th member, read now.
func member(t testing.TB, p *proxy.Proxy, colour string, i int) proxy.MemberStatus {
	t.Helper()
	for _, c := range p.Status().Backends {
		if c.Color == colour && i < len(c.Members) {
			return c.Members[i]
		}
	}
	t.Fatalf("no member %d of colour %s in /status", i, colour)
	return proxy.MemberStatus{}
}
