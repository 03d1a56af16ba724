package proxy

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the per-member latency histogram,
// shared by /status (avg, p50, p99 estimates) and /metrics.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// memberStats are lock-free request statistics of one member.
type memberStats struct {
	requests atomic.Uint64
	inflight atomic.Int64
	classes  [6]atomic.Uint64 // index status/100; 0 = failed before a status (never sent)
	buckets  [len(latencyBuckets) + 1]atomic.Uint64
	sumNanos atomic.Uint64
	ejects   atomic.Uint64
}

// record counts one attempt with the status judge recorded; bucket is
// bucketIndex(d), computed once for the member's and the group's histogram.
func (s *memberStats) record(status, bucket int, d time.Duration) {
	s.requests.Add(1)
	cls := status / 100
	if cls < 0 || cls > 5 {
		cls = 0
	}
	s.classes[cls].Add(1)
	s.buckets[bucket].Add(1)
	s.sumNanos.Add(uint64(d))
}

// bucketIndex is the latency histogram bucket of d: the first bound d does not exceed,
// len(latencyBuckets) above the last.
func bucketIndex(d time.Duration) int {
	sec := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && sec > latencyBuckets[i] {
		i++
	}
	return i
}

// quantile estimates the q-quantile latency (seconds) from the histogram.
func (s *memberStats) quantile(q float64) float64 {
	var counts [len(latencyBuckets) + 1]uint64
	for i := range counts {
		counts[i] = s.buckets[i].Load()
	}
	return HistogramQuantile(latencyBuckets[:], counts[:], q)
}

// globalStats are proxy-wide counters.
type globalStats struct {
	requests  atomic.Uint64
	noBackend atomic.Uint64 // 503: nothing healthy
	retries   atomic.Uint64
	// clientFaults counts attempts that failed by the client's doing (judge).
	clientFaults atomic.Uint64
	openConns    atomic.Int64 // client connections on the proxy listener
	reloadsOK    atomic.Uint64
	reloadsBad   atomic.Uint64
	upstream     sync.Map // backend host:port → *atomic.Int64 open upstream connections
}

func (g *globalStats) upstreamGauge(addr string) *atomic.Int64 {
	if v, ok := g.upstream.Load(addr); ok {
		return v.(*atomic.Int64)
	}
	v, _ := g.upstream.LoadOrStore(addr, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// countingConn decrements its gauge once on Close.
type countingConn struct {
	net.Conn
	gauge *atomic.Int64
	once  sync.Once
}

func (c *countingConn) Close() error {
	c.once.Do(func() { c.gauge.Add(-1) })
	return c.Conn.Close()
}

// countingListener counts accepted client connections until they are closed.
type countingListener struct {
	net.Listener
	gauge *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.gauge.Add(1)
	return &countingConn{Conn: c, gauge: l.gauge}, nil
}

// CountRequest counts a request an engine received for the backends (local answers
// such as /healthz are not counted).
func (p *Proxy) CountRequest() { p.stats.requests.Add(1) }

// CountNoBackend counts a request answered 503 because Pick found no member.
func (p *Proxy) CountNoBackend() { p.stats.noBackend.Add(1) }

// CountClientFault counts a request refused before any member was involved (Refuse).
func (p *Proxy) CountClientFault() { p.stats.clientFaults.Add(1) }

// OpenConns is the gauge of open client connections on the proxy listener, for an
// engine that accepts connections itself (TrackListener counts the others).
func (p *Proxy) OpenConns() *atomic.Int64 { return &p.stats.openConns }

// UpstreamGauge is the gauge of open connections to a member's dial address, for an
// engine that dials members itself (NewTransport's dialer counts the others).
func (p *Proxy) UpstreamGauge(addr string) *atomic.Int64 { return p.stats.upstreamGauge(addr) }

// Counter is a counter an engine keeps of its own and the core reports: in /metrics
// as archway_<Name>_total, in /status under "engine".
type Counter struct {
	Name, Help string
	Value      func() uint64
}

// AddCounter makes c part of /status and /metrics.
func (p *Proxy) AddCounter(c Counter) {
	for {
		old := p.counters.Load()
		var next []Counter
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, c)
		if p.counters.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (p *Proxy) engineCounters() []Counter {
	if c := p.counters.Load(); c != nil {
		return *c
	}
	return nil
}

// TrackListener wraps the proxy listener so /status and /metrics report open client
// connections.
func (p *Proxy) TrackListener(ln net.Listener) net.Listener {
	return countingListener{Listener: ln, gauge: &p.stats.openConns}
}

// dialCounting wraps a dialer so that open upstream connections are counted per address.
func (p *Proxy) dialCounting(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		g := p.stats.upstreamGauge(addr)
		g.Add(1)
		return &countingConn{Conn: c, gauge: g}, nil
	}
}

// serveMetrics writes the Prometheus text exposition format (version 0.0.4).
func (p *Proxy) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	help := func(name, typ, text string) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, typ)
	}
	p.proxyMetrics(bw, help)
	p.tlsMetrics(bw, help)
	p.groupMetrics(bw, help)
	if s := p.snap.Load(); s != nil {
		p.memberMetrics(bw, help, s)
	}
}

// proxyMetrics writes the proxy-wide counters: requests, retries, faults,
// connections, the engine's own counters and configuration reloads.
func (p *Proxy) proxyMetrics(bw *bufio.Writer, help func(name, typ, text string)) {
	help("archway_requests_total", "counter", "Requests received by the proxy.")
	fmt.Fprintf(bw, "archway_requests_total %d\n", p.stats.requests.Load())
	help("archway_no_backend_total", "counter", "Requests answered 503 because no backend was available.")
	fmt.Fprintf(bw, "archway_no_backend_total %d\n", p.stats.noBackend.Load())
	help("archway_retries_total", "counter", "Requests retried on another member after a backend fault (connect failure, attempt deadline, 502).")
	fmt.Fprintf(bw, "archway_retries_total %d\n", p.stats.retries.Load())
	help("archway_client_faults_total", "counter", "Requests that failed by the client's doing (malformed, stalled or oversized body; client gone): never counted against a backend.")
	fmt.Fprintf(bw, "archway_client_faults_total %d\n", p.stats.clientFaults.Load())
	if dropped, ok := p.AccessLogDropped(); ok {
		help("archway_access_log_dropped_total", "counter", "Access log lines not written: the queue to stdout was full (a slow log reader) or stdout refused them.")
		fmt.Fprintf(bw, "archway_access_log_dropped_total %d\n", dropped)
	}
	help("archway_open_connections", "gauge", "Open client connections on the proxy listener.")
	fmt.Fprintf(bw, "archway_open_connections %d\n", p.stats.openConns.Load())
	for _, c := range p.engineCounters() {
		help("archway_"+c.Name+"_total", "counter", c.Help)
		fmt.Fprintf(bw, "archway_%s_total %d\n", c.Name, c.Value())
	}
	help("archway_config_reloads_total", "counter", "Backend set changes by result.")
	fmt.Fprintf(bw, "archway_config_reloads_total{result=\"ok\"} %d\n", p.stats.reloadsOK.Load())
	fmt.Fprintf(bw, "archway_config_reloads_total{result=\"error\"} %d\n", p.stats.reloadsBad.Load())
}

// tlsMetrics writes the served certificate's expiry and reloads, when the proxy
// terminates TLS.
func (p *Proxy) tlsMetrics(bw *bufio.Writer, help func(name, typ, text string)) {
	if c := p.certInfo(); c != nil {
		help("archway_tls_certificate_not_after_seconds", "gauge", "Expiry of the certificate the proxy listener serves (Unix time).")
		fmt.Fprintf(bw, "archway_tls_certificate_not_after_seconds %d\n", c.NotAfter.Unix())
		help("archway_tls_reloads_total", "counter", "Certificate pairs loaded after start (file change or SIGHUP).")
		fmt.Fprintf(bw, "archway_tls_reloads_total %d\n", c.Reloads)
		failing := 0
		if c.LastError != "" {
			failing = 1
		}
		help("archway_tls_reload_failing", "gauge", "1 while the certificate files changed but do not load (the previous pair is still served).")
		fmt.Fprintf(bw, "archway_tls_reload_failing %d\n", failing)
	}
}

// memberMetrics writes each colour's weight and each member's state, traffic and
// latency histogram, from snapshot s.
func (p *Proxy) memberMetrics(bw *bufio.Writer, help func(name, typ, text string), s *snapshot) {
	help("archway_backend_weight", "gauge", "Configured weight of a colour.")
	for _, c := range s.colours {
		fmt.Fprintf(bw, "archway_backend_weight{color=%q} %d\n", c.header, c.weight)
	}
	type row struct {
		c *colour
		m *Member
	}
	var rows []row
	for _, c := range s.colours {
		for _, m := range c.members {
			rows = append(rows, row{c, m})
		}
	}
	lbl := func(r row) string { return fmt.Sprintf("color=%q,member=%q", r.c.header, r.m.URL()) }
	help("archway_backend_up", "gauge", "1 when the member takes traffic (active check passing, not ejected).")
	for _, r := range rows {
		fmt.Fprintf(bw, "archway_backend_up{%s} %d\n", lbl(r), b2i(r.m.up.Load()))
	}
	help("archway_backend_inflight_requests", "gauge", "Requests in flight to the member.")
	for _, r := range rows {
		fmt.Fprintf(bw, "archway_backend_inflight_requests{%s} %d\n", lbl(r), r.m.stats.inflight.Load())
	}
	help("archway_backend_open_connections", "gauge", "Open upstream connections to the member's address.")
	for _, r := range rows {
		fmt.Fprintf(bw, "archway_backend_open_connections{%s} %d\n", lbl(r), p.stats.upstreamGauge(r.m.dialAddr).Load())
	}
	help("archway_backend_ejections_total", "counter", "Passive ejections of the member.")
	for _, r := range rows {
		fmt.Fprintf(bw, "archway_backend_ejections_total{%s} %d\n", lbl(r), r.m.stats.ejects.Load())
	}
	help("archway_backend_responses_total", "counter", "Responses by status class (\"error\": no response from the backend).")
	for _, r := range rows {
		for cls := range r.m.stats.classes {
			fmt.Fprintf(bw, "archway_backend_responses_total{%s,code=%q} %d\n", lbl(r), classLabel(cls), r.m.stats.classes[cls].Load())
		}
	}
	help("archway_backend_request_duration_seconds", "histogram", "Time to serve a request through the member.")
	for _, r := range rows {
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += r.m.stats.buckets[i].Load()
			fmt.Fprintf(bw, "archway_backend_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", lbl(r), ub, cum)
		}
		cum += r.m.stats.buckets[len(latencyBuckets)].Load()
		fmt.Fprintf(bw, "archway_backend_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", lbl(r), cum)
		fmt.Fprintf(bw, "archway_backend_request_duration_seconds_sum{%s} %g\n", lbl(r), float64(r.m.stats.sumNanos.Load())/1e9)
		fmt.Fprintf(bw, "archway_backend_request_duration_seconds_count{%s} %d\n", lbl(r), cum)
	}
}

// groupMetrics writes the statistics per colour and platform: counters and the
// histogram since start, gauges over the recent window (STATS_WINDOW). Every group
// seen since start is listed, so its series never vanish while the proxy runs.
func (p *Proxy) groupMetrics(bw *bufio.Writer, help func(name, typ, text string)) {
	groups := p.readGroups(time.Now())
	if len(groups) == 0 {
		return
	}
	lbl := func(g *groupStats) string { return fmt.Sprintf("color=%q,platform=%q", g.colour, g.platform) }
	help("archway_group_responses_total", "counter", "Attempts per colour and platform by class: 1xx-5xx, or failed (no usable response). Client faults are not counted.")
	for _, r := range groups {
		for cls := range r.total.classes {
			fmt.Fprintf(bw, "archway_group_responses_total{%s,code=%q} %d\n", lbl(r.g), groupClassLabel(cls), r.total.classes[cls])
		}
	}
	help("archway_group_request_duration_seconds", "histogram", "Time to serve an attempt, per colour and platform.")
	for _, r := range groups {
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += r.total.buckets[i]
			fmt.Fprintf(bw, "archway_group_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", lbl(r.g), ub, cum)
		}
		cum += r.total.buckets[len(latencyBuckets)]
		fmt.Fprintf(bw, "archway_group_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", lbl(r.g), cum)
		fmt.Fprintf(bw, "archway_group_request_duration_seconds_sum{%s} %g\n", lbl(r.g), float64(r.total.sumNanos)/1e9)
		fmt.Fprintf(bw, "archway_group_request_duration_seconds_count{%s} %d\n", lbl(r.g), cum)
	}
	recent := make([]GroupCounts, len(groups))
	for i, r := range groups {
		recent[i] = r.recent.status(r.window)
	}
	help("archway_group_recent_requests", "gauge", "Attempts per colour and platform over the recent window (archway_stats_recent_window_seconds).")
	for i, r := range groups {
		fmt.Fprintf(bw, "archway_group_recent_requests{%s} %d\n", lbl(r.g), recent[i].Requests)
	}
	help("archway_group_recent_success_ratio", "gauge", "Share of attempts answered 1xx-4xx over the recent window, per colour and platform (0 without attempts).")
	for i, r := range groups {
		fmt.Fprintf(bw, "archway_group_recent_success_ratio{%s} %g\n", lbl(r.g), recent[i].SuccessRate)
	}
	// A gauge per quantile, as a Prometheus summary names them: the proxy estimates
	// them from its histogram, so a dashboard needs no histogram_quantile over a window.
	help("archway_group_recent_latency_seconds", "gauge", "Estimated latency quantiles (0.5, 0.99) over the recent window, per colour and platform.")
	for i, r := range groups {
		fmt.Fprintf(bw, "archway_group_recent_latency_seconds{%s,quantile=\"0.5\"} %g\n", lbl(r.g), recent[i].LatencyMS.P50/1e3)
		fmt.Fprintf(bw, "archway_group_recent_latency_seconds{%s,quantile=\"0.99\"} %g\n", lbl(r.g), recent[i].LatencyMS.P99/1e3)
	}
	help("archway_stats_recent_window_seconds", "gauge", "Span the recent-window gauges cover: up to STATS_WINDOW, less in the first window after start.")
	fmt.Fprintf(bw, "archway_stats_recent_window_seconds %g\n", groups[0].window.Seconds())
}

func classLabel(cls int) string {
	if cls == 0 {
		return "error"
	}
	return fmt.Sprintf("%dxx", cls)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// upstreamOpen sums open upstream connections (status).
func (p *Proxy) upstreamOpen() map[string]int64 {
	out := map[string]int64{}
	p.stats.upstream.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// roundMS rounds seconds to milliseconds with 3 decimals for JSON.
func roundMS(sec float64) float64 { return math.Round(sec*1e6) / 1e3 }
