package enginetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// The end-to-end benchmarks share one backend and client setup; BenchmarkDirect is
// the baseline (client → backend), BenchmarkProxy adds archway-proxy (nethttp engine)
// in between and BenchmarkProxyEpoll the epoll engine (Linux), so ns/op(Proxy)/
// ns/op(Direct) is the cost of the extra hop.
//
// Each also reports cpu-ns/op: user+system CPU time of the whole process (client,
// proxy and backends) per request. On a shared machine ns/op follows other people's
// load; CPU time per request barely does, so compare that between builds.

// reportCPU makes b report process CPU time per op from now until the benchmark ends.
func reportCPU(b *testing.B) {
	start := cpuTime()
	b.Cleanup(func() {
		if b.N > 0 && start >= 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	})
}

func benchBackend(b *testing.B) *httptest.Server {
	body := []byte("blue 0123456789abcdef linux/amd64\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
}

func benchGet(b *testing.B, c *http.Client, u string) {
	resp, err := c.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

func benchProxy(b *testing.B, engine string) *proxytest.Front {
	be1, be2 := benchBackend(b), benchBackend(b)
	u1, _ := url.Parse(be1.URL)
	u2, _ := url.Parse(be2.URL)
	p := newTestProxy(b, engine, proxy.Options{Hostname: "bench"},
		proxy.BackendSpec{Name: "BLUE", Weight: 4, Members: []*url.URL{u1}}, proxy.BackendSpec{Name: "GREEN", Weight: 1, Members: []*url.URL{u2}})
	return newFront(b, p)
}

// benchURL is what a benchmark requests: the backend itself for engine "" (Direct),
// else a proxy with that engine in front of two backends.
func benchURL(b *testing.B, engine string) string {
	if engine == "" {
		return benchBackend(b).URL + "/a?b=c"
	}
	return benchProxy(b, engine).URL + "/a?b=c"
}

func BenchmarkDirect(b *testing.B)         { benchSerial(b, "") }
func BenchmarkProxy(b *testing.B)          { benchSerial(b, proxy.EngineNetHTTP) }
func BenchmarkDirectParallel(b *testing.B) { benchParallel(b, "") }
func BenchmarkProxyParallel(b *testing.B)  { benchParallel(b, proxy.EngineNetHTTP) }
func BenchmarkProxyEpoll(b *testing.B)     { benchSerial(b, proxy.EngineEpoll) }

func BenchmarkProxyEpollParallel(b *testing.B) { benchParallel(b, proxy.EngineEpoll) }

func benchSerial(b *testing.B, engine string) {
	u, c := benchURL(b, engine), benchClient()
	b.ReportAllocs()
	reportCPU(b)
	for b.Loop() {
		benchGet(b, c, u)
	}
}

func benchParallel(b *testing.B, engine string) {
	u, c := benchURL(b, engine), benchClient()
	b.ReportAllocs()
	reportCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, c, u)
		}
	})
}
