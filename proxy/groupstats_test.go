package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	armInfo = MemberInfo{Node: "lab-arm-v7", Platform: "linux/arm/v7"}
	amdInfo = MemberInfo{Node: "lab-amd64", Platform: "linux/amd64"}
)

func quietProxy(opts Options) *Proxy {
	opts.Logger = slog.New(slog.DiscardHandler)
	return New(opts)
}

// attempt records one attempt on the member at host of colour with outcome o, taking d.
func attempt(t testing.TB, p *Proxy, colour, host string, o Outcome, d time.Duration) {
	t.Helper()
	m := p.members[colour+" http://"+host]
	if m == nil {
		t.Fatalf("no member %s %s", colour, host)
	}
	start := p.Begin(m)
	p.EndAt(m, start, start.Add(d), o, false)
}

func group(t *testing.T, st Status, colour, platform string) GroupStatus {
	t.Helper()
	for _, g := range st.Groups {
		if g.Color == colour && g.Platform == platform {
			return g
		}
	}
	t.Fatalf("no group %s %s in %+v", colour, platform, st.Groups)
	return GroupStatus{}
}

// TestGroupStatsRecording: every attempt counts in its member's (colour, platform)
// group by what the backend did — ok (1xx-4xx), 5xx (its own 502 included), failed (no
// usable response) — and a client's fault not at all.
func TestGroupStatsRecording(t *testing.T) {
	p := quietProxy(Options{})
	err := p.Apply([]BackendSpec{
		infoSpec("BLUE", 1, map[string]MemberInfo{"b1:1": amdInfo}, "b1:1"),
		infoSpec("GREEN", 1, map[string]MemberInfo{"g1:1": armInfo, "g2:1": amdInfo}, "g1:1", "g2:1", "g3:1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	for range 6 {
		attempt(t, p, "GREEN", "g1:1", Outcome{Status: 200}, 2*ms)
	}
	attempt(t, p, "GREEN", "g1:1", Outcome{Status: 404}, 2*ms)
	attempt(t, p, "GREEN", "g1:1", Outcome{Status: 101}, 2*ms)
	attempt(t, p, "GREEN", "g1:1", Outcome{Status: 503}, 20*ms)
	attempt(t, p, "GREEN", "g1:1", Outcome{Status: 502}, 20*ms)                                                // the backend's own 502
	attempt(t, p, "GREEN", "g1:1", Outcome{Err: syscall.ECONNREFUSED}, ms)                                     // failed
	attempt(t, p, "GREEN", "g1:1", Outcome{Status: 200, Err: ErrResponseTruncated, Sent: true}, 3*time.Second) // failed
	attempt(t, p, "GREEN", "g1:1", Outcome{Status: 200, Client: ErrClientGone}, ms)                            // the client's
	attempt(t, p, "GREEN", "g1:1", Outcome{Client: BodyMalformedError{errors.New("bad chunk")}}, ms)           // the client's
	attempt(t, p, "GREEN", "g2:1", Outcome{Status: 200}, ms)
	attempt(t, p, "GREEN", "g3:1", Outcome{Status: 500}, ms)
	attempt(t, p, "BLUE", "b1:1", Outcome{Status: 200}, ms)

	st := p.Status()
	keys := []string{}
	for _, g := range st.Groups {
		keys = append(keys, g.Color+" "+g.Platform)
	}
	if want := []string{"blue linux/amd64", "green linux/amd64", "green linux/arm/v7", "green unknown"}; !slices.Equal(keys, want) {
		t.Fatalf("groups %q, want %q (sorted by colour, platform)", keys, want)
	}
	arm := group(t, st, "green", "linux/arm/v7")
	tot := arm.Total
	if tot.Requests != 12 || tot.OK != 8 || tot.Errors5xx != 2 || tot.Failed != 2 {
		t.Errorf("arm/v7 total requests %d ok %d 5xx %d failed %d; want 12 8 2 2", tot.Requests, tot.OK, tot.Errors5xx, tot.Failed)
	}
	if want := map[string]uint64{"1xx": 1, "2xx": 6, "4xx": 1, "5xx": 2, "failed": 2}; !mapsEqual(tot.Codes, want) {
		t.Errorf("codes %v, want %v", tot.Codes, want)
	}
	if tot.SuccessRate != 8.0/12 {
		t.Errorf("success rate %v, want %v", tot.SuccessRate, 8.0/12)
	}
	var sum uint64
	for _, c := range tot.Histogram.Counts {
		sum += c
	}
	if len(tot.Histogram.LeSeconds) != 14 || len(tot.Histogram.Counts) != 15 || sum != 12 || tot.Histogram.Counts[12] != 1 {
		t.Errorf("histogram %+v: want 14 bounds, 15 counts summing to 12, the 3 s attempt in (2.5, 5]", tot.Histogram)
	}
	if tot.LatencyMS.P50 <= 1 || tot.LatencyMS.P50 > 2.5 || tot.LatencyMS.P99 < 2500 || tot.LatencyMS.Avg <= 0 {
		t.Errorf("latency %+v", tot.LatencyMS)
	}
	if arm.Members != 1 || arm.Recent.Requests != 12 {
		t.Errorf("members %d recent %d; want 1 and 12 (the ring has only the start copy)", arm.Members, arm.Recent.Requests)
	}
	if g := group(t, st, "green", "unknown"); g.Total.Requests != 1 || g.Total.Errors5xx != 1 || g.Total.SuccessRate != 0 {
		t.Errorf("unknown platform group %+v", g.Total)
	}
	if st.ClientFaults != 2 {
		t.Errorf("client faults %d, want 2", st.ClientFaults)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestGroupStatsOutliveMembers: a task replaced by another on the same platform (a new
// member at a new address) keeps adding to the same counters; a group whose members
// all left stays with its counts and 0 members; a member whose node changes platform
// counts in the new group from then on.
func TestGroupStatsOutliveMembers(t *testing.T) {
	p := quietProxy(Options{})
	apply := func(info map[string]MemberInfo, hosts ...string) {
		t.Helper()
		if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, info, hosts...)}); err != nil {
			t.Fatal(err)
		}
	}
	apply(map[string]MemberInfo{"old:1": armInfo}, "old:1")
	for range 3 {
		attempt(t, p, "GREEN", "old:1", Outcome{Status: 200}, time.Millisecond)
	}
	apply(map[string]MemberInfo{"new:1": armInfo}, "new:1")
	attempt(t, p, "GREEN", "new:1", Outcome{Status: 500}, time.Millisecond)
	g := group(t, p.Status(), "green", "linux/arm/v7")
	if g.Total.Requests != 4 || g.Total.Errors5xx != 1 || g.Members != 1 {
		t.Errorf("after the replacement: %d requests, %d 5xx, %d members; want 4, 1, 1", g.Total.Requests, g.Total.Errors5xx, g.Members)
	}

	apply(map[string]MemberInfo{"new:1": amdInfo}, "new:1")
	attempt(t, p, "GREEN", "new:1", Outcome{Status: 200}, time.Millisecond)
	st := p.Status()
	if g := group(t, st, "green", "linux/arm/v7"); g.Total.Requests != 4 || g.Members != 0 {
		t.Errorf("arm/v7 after its last member left: %d requests, %d members; want 4, 0", g.Total.Requests, g.Members)
	}
	if g := group(t, st, "green", "linux/amd64"); g.Total.Requests != 1 || g.Members != 1 {
		t.Errorf("amd64: %d requests, %d members; want 1, 1", g.Total.Requests, g.Members)
	}
}

// TestGroupStatsRecentWindow: "recent" is now minus the oldest of the ring's copies,
// taken every window/12; until the ring is full it is since start, and a group born
// after the oldest copy counts whole.
func TestGroupStatsRecentWindow(t *testing.T) {
	p := quietProxy(Options{StatsWindow: time.Minute})
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1")}); err != nil {
		t.Fatal(err)
	}
	t0, step := p.start, 5*time.Second
	recent := func(at time.Time, colour, platform string) GroupCounts {
		t.Helper()
		for _, r := range p.readGroups(at) {
			if r.g.colour == colour && r.g.platform == platform {
				return r.recent.status(r.window)
			}
		}
		t.Fatalf("no group %s %s", colour, platform)
		return GroupCounts{}
	}
	// k requests (k 5xx among them when odd) before the copy at t0 + k*step.
	for k := 1; k <= 11; k++ {
		for range k {
			attempt(t, p, "GREEN", "g:1", Outcome{Status: 200}, time.Millisecond)
		}
		if k%2 == 1 {
			attempt(t, p, "GREEN", "g:1", Outcome{Status: 503}, time.Millisecond)
		}
		p.groups.copyAt(t0.Add(time.Duration(k) * step))
	}
	// 12 copies (start + 11): the oldest is still the start.
	r := recent(t0.Add(57*time.Second), "green", "linux/arm/v7")
	if r.Requests != 66+6 || r.WindowSeconds != 57 {
		t.Errorf("ring just full: recent %d requests over %vs; want 72 over 57s", r.Requests, r.WindowSeconds)
	}
	// The 13th copy replaces the start: recent = now - copy 1 (5s).
	attempt(t, p, "GREEN", "g:1", Outcome{Err: syscall.ECONNRESET}, time.Millisecond)
	p.groups.copyAt(t0.Add(60 * time.Second))
	r = recent(t0.Add(62*time.Second), "green", "linux/arm/v7")
	// Since copy 1: requests of k=2..11 (65 + 5 5xx) and the failure.
	if r.Requests != 65+5+1 || r.Errors5xx != 5 || r.Failed != 1 || r.WindowSeconds != 57 {
		t.Errorf("after wrap: recent %d requests, %d 5xx, %d failed over %vs; want 71, 5, 1 over 57s",
			r.Requests, r.Errors5xx, r.Failed, r.WindowSeconds)
	}
	var sum uint64
	for _, c := range r.Histogram.Counts {
		sum += c
	}
	if sum != r.Requests {
		t.Errorf("recent histogram sums to %d, want %d", sum, r.Requests)
	}
	// Nothing since: the next copies drain the window to 0.
	for k := 13; k <= 24; k++ {
		p.groups.copyAt(t0.Add(time.Duration(k) * step))
	}
	if r = recent(t0.Add(121*time.Second), "green", "linux/arm/v7"); r.Requests != 0 || r.SuccessRate != 0 || r.Codes == nil {
		t.Errorf("quiet window: %+v", r)
	}
	// A group born after every copy: all of it is recent.
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo, "h:1": amdInfo}, "g:1", "h:1")}); err != nil {
		t.Fatal(err)
	}
	attempt(t, p, "GREEN", "h:1", Outcome{Status: 200}, time.Millisecond)
	if r = recent(t0.Add(122*time.Second), "green", "linux/amd64"); r.Requests != 1 {
		t.Errorf("new group: recent %d, want 1", r.Requests)
	}
}

// TestGroupStatsRunCopies: Run takes the copies; once the ring is full "recent" spans
// less than the uptime.
func TestGroupStatsRunCopies(t *testing.T) {
	p := quietProxy(Options{StatsWindow: 120 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.groups.mu.Lock()
		full := p.groups.filled == windowCopies
		p.groups.mu.Unlock()
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ring did not fill within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Apply([]BackendSpec{infoSpec("BLUE", 1, nil, "b:1")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	g := group(t, p.Status(), "blue", "unknown")
	if g.Recent.WindowSeconds >= g.Total.WindowSeconds {
		t.Errorf("recent spans %vs, total %vs: want recent shorter", g.Recent.WindowSeconds, g.Total.WindowSeconds)
	}
}

// TestGroupStatusJSON: the field names the release tool reads.
func TestGroupStatusJSON(t *testing.T) {
	p := quietProxy(Options{})
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1")}); err != nil {
		t.Fatal(err)
	}
	attempt(t, p, "GREEN", "g:1", Outcome{Status: 200}, time.Millisecond)
	b, err := json.Marshal(p.Status())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []map[string]any `json:"groups"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Groups) != 1 {
		t.Fatalf("groups %s", b)
	}
	g := doc.Groups[0]
	if g["color"] != "green" || g["platform"] != "linux/arm/v7" {
		t.Errorf("group keys %v", g)
	}
	for _, span := range []string{"total", "recent"} {
		c, _ := g[span].(map[string]any)
		for _, k := range []string{"requests", "ok", "errors_5xx", "failed", "codes", "success_rate", "latency_ms", "histogram", "window_seconds"} {
			if _, ok := c[k]; !ok {
				t.Errorf("%s lacks %q: %v", span, k, c)
			}
		}
		h, _ := c["histogram"].(map[string]any)
		if _, ok := h["le_seconds"]; !ok {
			t.Errorf("%s histogram lacks le_seconds: %v", span, h)
		}
		if _, ok := h["counts"]; !ok {
			t.Errorf("%s histogram lacks counts: %v", span, h)
		}
		if codes, _ := c["codes"].(map[string]any); codes["2xx"] != 1.0 {
			t.Errorf("%s codes %v", span, codes)
		}
	}
}

// TestEndAtRecordsWithoutAllocating: the recording path (member and group statistics,
// passive health) allocates nothing.
func TestEndAtRecordsWithoutAllocating(t *testing.T) {
	p := quietProxy(Options{MaxFails: 3})
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1")}); err != nil {
		t.Fatal(err)
	}
	m := p.members["GREEN http://g:1"]
	ok, bad := Outcome{Status: 200}, Outcome{Status: 503}
	if n := testing.AllocsPerRun(1000, func() {
		start := p.Begin(m)
		p.EndAt(m, start, start.Add(time.Millisecond), ok, true)
		p.EndAt(m, start, start.Add(time.Millisecond), bad, true)
	}); n != 0 {
		t.Fatalf("%v allocations per Begin/EndAt, want 0", n)
	}
}

// BenchmarkEndAt is the recording path of every attempt: the member's and its group's
// statistics and passive health. It must stay at 0 allocs/op.
func BenchmarkEndAt(b *testing.B) {
	p := quietProxy(Options{MaxFails: 3})
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1")}); err != nil {
		b.Fatal(err)
	}
	m := p.members["GREEN http://g:1"]
	o := Outcome{Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		start := p.Begin(m)
		p.EndAt(m, start, start.Add(time.Millisecond), o, true)
	}
}

// BenchmarkEndAtParallel is BenchmarkEndAt from every CPU on one group, the
// contention of a busy colour on one platform.
func BenchmarkEndAtParallel(b *testing.B) {
	p := quietProxy(Options{MaxFails: 3})
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1")}); err != nil {
		b.Fatal(err)
	}
	m := p.members["GREEN http://g:1"]
	o := Outcome{Status: 200}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := p.Begin(m)
			p.EndAt(m, start, start.Add(time.Millisecond), o, true)
		}
	})
}

// TestGroupMetrics: /metrics has the per colour × platform counters, histogram and
// recent-window gauges.
func TestGroupMetrics(t *testing.T) {
	p := quietProxy(Options{})
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1")}); err != nil {
		t.Fatal(err)
	}
	attempt(t, p, "GREEN", "g:1", Outcome{Status: 200}, 3*time.Millisecond)
	attempt(t, p, "GREEN", "g:1", Outcome{Status: 200}, 3*time.Millisecond)
	attempt(t, p, "GREEN", "g:1", Outcome{Status: 503}, 3*time.Millisecond)
	attempt(t, p, "GREEN", "g:1", Outcome{Err: syscall.ECONNREFUSED}, 3*time.Millisecond)
	rec := httptest.NewRecorder()
	p.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	l := `color="green",platform="linux/arm/v7"`
	for _, want := range []string{
		"# TYPE archway_group_responses_total counter",
		"archway_group_responses_total{" + l + `,code="2xx"} 2`,
		"archway_group_responses_total{" + l + `,code="5xx"} 1`,
		"archway_group_responses_total{" + l + `,code="failed"} 1`,
		"archway_group_responses_total{" + l + `,code="4xx"} 0`,
		"# TYPE archway_group_request_duration_seconds histogram",
		"archway_group_request_duration_seconds_bucket{" + l + `,le="0.0025"} 0`,
		"archway_group_request_duration_seconds_bucket{" + l + `,le="0.005"} 4`,
		"archway_group_request_duration_seconds_bucket{" + l + `,le="+Inf"} 4`,
		"archway_group_request_duration_seconds_count{" + l + "} 4",
		"archway_group_recent_requests{" + l + "} 4",
		"archway_group_recent_success_ratio{" + l + "} 0.5",
		"archway_group_recent_latency_seconds{" + l + `,quantile="0.99"} 0.00`,
		"archway_group_recent_latency_seconds{" + l + `,quantile="0.5"} 0.00`,
		"# TYPE archway_stats_recent_window_seconds gauge",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestGroupStatsBounded: colour names churned (by labels or the admin API) leave at
// most MaxGroups groups; those dropped are the oldest without members, a group in use
// keeps its counters, and "recent" stays right for it across the drop.
func TestGroupStatsBounded(t *testing.T) {
	p := quietProxy(Options{StatsWindow: time.Minute})
	blue := infoSpec("BLUE", 1, map[string]MemberInfo{"b:1": amdInfo}, "b:1")
	apply := func(specs ...BackendSpec) {
		t.Helper()
		if err := p.Apply(specs); err != nil {
			t.Fatal(err)
		}
	}
	apply(blue)
	attempt(t, p, "BLUE", "b:1", Outcome{Status: 200}, time.Millisecond)
	// A full ring of copies after the first attempt: "recent" is the second one only.
	for k := 1; k <= windowCopies; k++ {
		p.groups.copyAt(p.start.Add(time.Duration(k) * 5 * time.Second))
	}
	attempt(t, p, "BLUE", "b:1", Outcome{Status: 503}, time.Millisecond)
	churn := MaxGroups + 100
	for i := range churn {
		name := fmt.Sprintf("C%d", i)
		apply(blue, infoSpec(name, 1, map[string]MemberInfo{"c:1": armInfo}, "c:1"))
		attempt(t, p, name, "c:1", Outcome{Status: 200}, time.Millisecond)
	}
	st := p.Status()
	if len(st.Groups) != MaxGroups {
		t.Fatalf("%d groups after %d churned colours, want the limit %d", len(st.Groups), churn, MaxGroups)
	}
	if g := group(t, st, "blue", "linux/amd64"); g.Total.Requests != 2 || g.Members != 1 || g.Recent.Requests != 1 || g.Recent.Errors5xx != 1 {
		t.Errorf("blue, in use throughout: total %d, recent %d (%d 5xx), %d members; want 2, 1 (1), 1",
			g.Total.Requests, g.Recent.Requests, g.Recent.Errors5xx, g.Members)
	}
	last := fmt.Sprintf("c%d", churn-1)
	if g := group(t, st, last, "linux/arm/v7"); g.Total.Requests != 1 || g.Members != 1 {
		t.Errorf("%s, the newest: %d requests, %d members; want 1, 1", last, g.Total.Requests, g.Members)
	}
	for _, g := range st.Groups {
		if g.Color == "c0" || g.Color == "c100" {
			t.Errorf("group %s kept; the oldest without members go first", g.Color)
		}
	}
	if g := group(t, st, "c101", "linux/arm/v7"); g.Total.Requests != 1 || g.Members != 0 {
		t.Errorf("c101, the oldest kept: %d requests, %d members; want 1, 0", g.Total.Requests, g.Members)
	}
}
