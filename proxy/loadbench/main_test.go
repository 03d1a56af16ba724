package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd: %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even: %v", m)
	}
	if m := medianDuration([]time.Duration{time.Second, 3 * time.Second, 2 * time.Second}); m != 2*time.Second {
		t.Errorf("durations: %v", m)
	}
}

// fakeReport: 3 rounds in two shapes. In t1c16 the default configuration meets
// every goal; in t2c64 it beats nginx (median 1.15×) but not HAProxy (0.92×).
// nethttp misses everything.
func fakeReport(t *testing.T) (r *report, def, nethttp string) {
	t.Helper()
	targets, err := parseEngines(defaultEngines)
	if err != nil {
		t.Fatal(err)
	}
	shapes, err := parseShapes("t1c16,t2c64")
	if err != nil {
		t.Fatal(err)
	}
	r = &report{opts: options{targets: targets, shapes: shapes, rounds: 3}}
	def, nethttp = targets[0].name, targets[1].name
	ms := time.Millisecond
	for i, v := range []float64{10000, 9000, 11000} {
		p99 := time.Duration(10+i) * ms
		for _, sh := range []string{"t1c16", "t2c64"} {
			r.add(i+1, sh, "nginx", WrkResult{RequestsPerSec: v, P50: 2 * ms, P99: p99, CPUPerRequest: 40 * time.Microsecond,
				MachineCPUPerRequest: time.Duration(154+11*i) * time.Microsecond, Idle: 0.05 * float64(i), Steal: 0.01})
			r.add(i+1, sh, "HAProxy", WrkResult{RequestsPerSec: v * 1.25, P50: 3 * ms, P99: 2 * p99, CPUPerRequest: 50 * time.Microsecond})
			r.add(i+1, sh, nethttp, WrkResult{RequestsPerSec: v / 2, P50: 4 * ms, P99: 3 * p99, CPUPerRequest: 120 * time.Microsecond})
		}
		r.add(i+1, "t1c16", def, WrkResult{RequestsPerSec: v * 1.3, P50: 1 * ms, P99: p99 * 9 / 10, CPUPerRequest: 30 * time.Microsecond,
			MachineCPUPerRequest: 110 * time.Microsecond, Idle: 0.1})
		r.add(i+1, "t2c64", def, WrkResult{RequestsPerSec: v * []float64{1.2, 1.0, 1.15}[i], P50: 2 * ms, P99: p99, CPUPerRequest: 32 * time.Microsecond})
	}
	return r, def, nethttp
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestReportRatios(t *testing.T) {
	r, def, nethttp := fakeReport(t)
	if s := r.ratio("t2c64", def, "nginx", reqPerSec); !near(s.median, 1.15) || !near(s.min, 1.0) || !near(s.max, 1.2) || s.n != 3 {
		t.Errorf("t2c64 default/nginx req/s %+v, want median 1.15 of 1.0–1.2", s)
	}
	if s := r.ratio("t1c16", def, "nginx", reqPerSec); !near(s.median, 1.3) {
		t.Errorf("t1c16 default/nginx req/s %+v: the shapes mixed", s)
	}
	if s := r.ratio("t2c64", def, "HAProxy", reqPerSec); !near(s.median, 1.15/1.25) || !near(s.min, 0.8) {
		t.Errorf("t2c64 default/HAProxy req/s %+v", s)
	}
	if s := r.ratio("t1c16", def, "HAProxy", p50); !near(s.median, 1.0/3) {
		t.Errorf("p50 over HAProxy %+v", s)
	}
	if s := r.ratio("t1c16", nethttp, "nginx", cpuPerRequest); !near(s.median, 3) || !near(s.min, 3) || !near(s.max, 3) {
		t.Errorf("nethttp CPU/request over nginx %+v", s)
	}
	if s := r.ratio("t1c16", def, "nginx", p99); !near(s.median, 0.9) {
		t.Errorf("p99 %+v", s)
	}
	if s := r.ratio("t9c9", def, "nginx", p99); s.n != 0 || s.String() != "–" || goals[0].met(s.median) {
		t.Errorf("a shape without runs: %+v %q", s, s)
	}
	// A round where the target has no CPU reading (its process group was not read)
	// has no ratio: not 0×, which would meet "CPU per request ≤ 0.8×".
	unread := &report{opts: r.opts}
	unread.add(1, "t1c16", "nginx", WrkResult{RequestsPerSec: 100, CPUPerRequest: 40 * time.Microsecond})
	unread.add(1, "t1c16", def, WrkResult{RequestsPerSec: 110})
	if s := unread.ratio("t1c16", def, "nginx", cpuPerRequest); s.n != 0 || s.String() != "–" {
		t.Errorf("CPU ratio without the target's reading: %+v %q, want unmeasured", s, s)
	}
	// nginx: 40µs of its own out of 154, 165, 176µs of the machine's: 1.1× needs 1 − x/11/40.
	if s := r.saturatedCPUGoal("t1c16", 1.1); !near(s.median, 0.625) || !near(s.min, 0.6) || !near(s.max, 0.65) || s.n != 3 {
		t.Errorf("saturated CPU bound %+v, want 0.625 of 0.60–0.65", s)
	}
	if s := r.saturatedCPUGoal("t9c9", 1.1); s.n != 0 || !math.IsNaN(s.median) {
		t.Errorf("a shape without nginx's runs: %+v", s)
	}
	if got := r.missedGoals(def); fmt.Sprint(got) != "[t2c64 req/s ≥ 1.0× HAProxy]" {
		t.Errorf("default missed %q", got)
	}
	if got := r.missedGoals(nethttp); len(got) != 8 {
		t.Errorf("nethttp missed %q, want all 4 goals in both shapes", got)
	}
	if r.defaultGoalsMet() {
		t.Error("default met every goal despite t2c64 vs HAProxy")
	}
	// Without that one miss it meets them all; an error anywhere in a shape undoes it.
	r.opts.shapes = r.opts.shapes[:1]
	if !r.defaultGoalsMet() {
		t.Errorf("t1c16 only: missed %q", r.missedGoals(def))
	}
	r.add(4, "t1c16", "HAProxy", WrkResult{RequestsPerSec: 1, P99: time.Second, Errors: 3})
	if r.defaultGoalsMet() || fmt.Sprint(r.missedGoals(def)) != "[t1c16 errors]" {
		t.Errorf("errors must fail the goals: %q", r.missedGoals(def))
	}
}

func TestReportPrint(t *testing.T) {
	r, def, _ := fakeReport(t)
	r.startLogs = map[string]string{def: "engine=epoll gomaxprocs=2 loops=2"}
	r.splits = map[string]map[string]int{"nginx": {"blue": 80, "green": 20}, "HAProxy": {"blue": 80, "green": 20}}
	var b strings.Builder
	r.print(&b)
	out := b.String()
	for _, want := range []string{
		"in 2 shapes (t1c16, t2c64; tNcM = -tN -cM)",
		"archway-proxy start logs: archway-proxy (default): engine=epoll gomaxprocs=2 loops=2\n",
		"split over 0 sequential requests (each verified): nginx blue 80, green 20; HAProxy blue 80, green 20;",
		"=== t1c16: wrk -t1 -c16 ===", "=== t2c64: wrk -t2 -c64 ===",
		"| front end | req/s (median) | p50 | p99 | CPU per request | backends' CPU per request | machine's CPU per request | idle | steal | errors |\n",
		"| nginx | 10000 | 2ms | 11ms | 40.0µs | 0.0µs | 165.0µs | 5.0% | 1.0% | 0 |\n",
		"| HAProxy | 12500 | 3ms | 22ms | 50.0µs | 0.0µs | 0.0µs | 0.0% | 0.0% | 0 |\n",
		"| archway-proxy (default) | 13000 | 1ms | 9.9ms | 30.0µs | 0.0µs | 110.0µs | 10.0% | 0.0% | 0 |\n",
		// nginx's rounds: 40µs of 154, 165 and 176µs, 1.1× needs 1 − x/11/40: 0.65, 0.625, 0.60.
		"\nWere the machine saturated (idle 5.0% with nginx), req/s ≥ 1.1× nginx would need CPU/request ≤ 0.62× (0.60–0.65) nginx's, the rest costing the same per request.\n",
		"| ratio, 3 rounds | req/s | p50 | p99 | CPU per request | machine's CPU per request | busy share |\n",
		// 110µs of nginx's 154, 165, 176µs; busy 0.9 of nginx's 1.0, 0.95, 0.9.
		"| archway-proxy (default) / nginx | 1.30× (1.30–1.30) | 0.50× (0.50–0.50) | 0.90× (0.90–0.90) | 0.75× (0.75–0.75) | 0.67× (0.62–0.71) | 0.95× (0.90–1.00) |\n",
		"| archway-proxy (default) / nginx | 1.15× (1.00–1.20) | 1.00× (1.00–1.00) | 1.00× (1.00–1.00) | 0.80× (0.80–0.80) |",
		"| archway-proxy (default) / HAProxy | 0.92× (0.80–0.96) |",
		// HAProxy's machine CPU was not measured here: no ratio to it.
		"| archway-proxy nethttp / HAProxy | 0.40× (0.40–0.40) | 1.33× (1.33–1.33) | 1.50× (1.50–1.50) | 2.40× (2.40–2.40) | – | 1.00× (1.00–1.00) |\n",
		"| HAProxy / HAProxy", // not wanted, checked below
		"| HAProxy / nginx | 1.25× (1.25–1.25) | 1.50× (1.50–1.50) | 2.00× (2.00–2.00) | 1.25× (1.25–1.25) |",
		"| goal (median ratio) | archway-proxy (default) | archway-proxy nethttp |\n| --- | --- | --- |\n",
		"| req/s ≥ 1.1× nginx | 1.30× MET | 0.50× MISSED |\n",
		"| req/s ≥ 1.0× HAProxy | 0.92× MISSED | 0.40× MISSED |\n",
		"| p99 ≤ 1.0× nginx | 1.00× MET | 3.00× MISSED |\n",
		"| CPU/request ≤ 0.8× nginx | 0.80× MET | 3.00× MISSED |\n",
		"| no errors (it, nginx, HAProxy) | MET | MET |\n",
		"archway-proxy (default): goals MISSED (shape, goal): t2c64 req/s ≥ 1.0× HAProxy\n",
	} {
		if want == "| HAProxy / HAProxy" {
			if strings.Contains(out, want) {
				t.Errorf("report compares HAProxy with itself:\n%s", out)
			}
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	if strings.Contains(out, "TLS") {
		t.Errorf("plain report mentions TLS:\n%s", out)
	}
	r.opts.tls = true
	b.Reset()
	r.print(&b)
	for _, want := range []string{
		"== archway-proxy vs nginx and HAProxy over TLS (HTTPS, HTTP/1.1), 0:0 weighted upstream",
		"\nTLS: every front end serves the same certificate",
		"few handshakes", "wrk has no HTTP/2", "served by its net/http engine",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("TLS report lacks %q:\n%s", want, b.String())
		}
	}
	r.opts.tls = false

	r.opts.shapes = r.opts.shapes[:1]
	r.opts.rounds = 1
	r.runs = slices.DeleteFunc(r.runs, func(run runResult) bool { return run.round > 1 })
	b.Reset()
	r.print(&b)
	for _, want := range []string{"| archway-proxy (default) / nginx | 1.30× | 0.50× | 0.90× | 0.75× | 0.71× | 0.90× |\n", "in 1 shape (t1c16;", "1 round,", "| ratio, 1 round |", "archway-proxy (default): every goal MET in every shape\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("one round: report lacks %q:\n%s", want, b.String())
		}
	}

	r.opts.targets = r.opts.targets[1:] // nethttp only
	b.Reset()
	r.print(&b)
	if !strings.Contains(b.String(), "(-engines lacks default): no verdict") || r.defaultGoalsMet() {
		t.Errorf("without the default configuration:\n%s", b.String())
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || fmt.Sprint(o.shapes) != "[t1c16 t2c64 t2c256]" || o.keepalive != 256 || o.duration != 10*time.Second || o.rounds != 3 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	// 3 rounds × 4 front ends × 3 shapes × (2s + 10s + 10s) + 3 minutes.
	if want := 36*22*time.Second + 3*time.Minute; o.timeout != want {
		t.Errorf("default -timeout %v, want %v", o.timeout, want)
	}
	if len(o.targets) != 2 || o.targets[0].name != "archway-proxy (default)" || o.targets[0].args != nil || !o.targets[0].isDefault() ||
		strings.Join(o.targets[1].args, " ") != "-engine nethttp" || o.targets[1].isDefault() {
		t.Errorf("default -engines: want the proxy without -engine, then nethttp: %+v", o.targets)
	}
	if o.tls {
		t.Error("TLS on by default")
	}
	if o, err := parseFlags([]string{"-tls"}, io.Discard); err != nil || !o.tls {
		t.Errorf("-tls: %v %v", o.tls, err)
	}
	o, err = parseFlags([]string{"-engines", "epoll, epoll:1"}, io.Discard)
	if err != nil || len(o.targets) != 2 || strings.Join(o.targets[1].args, " ") != "-engine epoll -loops 1" || o.targets[1].name != "archway-proxy epoll:1" {
		t.Errorf("-engines epoll, epoll:1: %+v %v", o.targets, err)
	}
	for args, want := range map[string]string{
		"-c 128": "[t2c128]", "-t 1": "[t1c64]", "-t 4 -c 32": "[t4c32]", "-shapes t1c1": "[t1c1]", "-shapes t2c64,t1c16": "[t2c64 t1c16]",
	} {
		o, err := parseFlags(strings.Fields(args), io.Discard)
		if err != nil || fmt.Sprint(o.shapes) != want {
			t.Errorf("%s: shapes %v %v, want %s", args, o.shapes, err, want)
		}
	}
	if o, err := parseFlags([]string{"-shapes", " t2c64, t1c16 "}, io.Discard); err != nil || fmt.Sprint(o.shapes) != "[t2c64 t1c16]" {
		t.Errorf("-shapes with spaces: %v %v", o.shapes, err)
	}
	if o, err := parseFlags([]string{"-c", "128", "-keepalive", "8"}, io.Discard); err != nil || o.keepalive != 8 || o.timeout != 12*22*time.Second+3*time.Minute {
		t.Errorf("-c 128 -keepalive 8: %d %v %v", o.keepalive, o.timeout, err)
	}
	for _, args := range [][]string{
		{"-rounds", "0"}, {"-c", "1", "-t", "2"}, {"-t", "0"}, {"-shapes", "t2c64", "-c", "8"}, {"-shapes", "t2c1"}, {"-shapes", "t0c4"},
		{"-strict", "-engines", "epoll,nethttp"}, {"-shapes", "2x64"}, {"-shapes", "t2c"}, {"-shapes", "t2c64,t2c64"}, {"-shapes", ""}, {"-keepalive", "-1"}, {"-d", "100ms"}, {"-procs", "0"},
		{"-blue-weight", "0"}, {"-path", "x"}, {"extra"}, {"-d", "soon"},
		{"-timeout", "-1s"}, {"-split-tolerance", "-0.1"}, {"-split-tolerance", "1"}, {"-split-tolerance", "NaN"},
		{"-engines", "nginx"}, {"-engines", "nethttp:2"}, {"-engines", "epoll:0"}, {"-engines", "epoll,epoll"},
		{"-engines", "default:2"}, {"-engines", "default,default"}, {"-engines", ""},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// -baseline adds another binary's default configuration; a path that is not a file
// is refused in one line naming it.
func TestParseFlagsBaseline(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "proxy-main")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-engines", "default", "-baseline", bin}, io.Discard)
	if err != nil || len(o.targets) != 2 || o.targets[1].bin != bin || o.targets[1].args != nil || o.targets[1].isDefault() {
		t.Fatalf("-baseline %s: %+v %v", bin, o.targets, err)
	}
	for _, bad := range []string{filepath.Dir(bin), bin + ".missing"} {
		_, err := parseFlags([]string{"-baseline", bad}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), `-baseline="`+bad+`"`) || strings.Contains(err.Error(), "\n") {
			t.Errorf("-baseline %s: %v", bad, err)
		}
	}
}

// fasthttp is no longer an engine of the bench: one line that says so, not a list of
// what is accepted.
func TestParseFlagsFastHTTPRetired(t *testing.T) {
	for _, list := range []string{"fasthttp", "default,fasthttp", "fasthttp:2"} {
		_, err := parseFlags([]string{"-engines", list}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "fasthttp engine was retired") || strings.Contains(err.Error(), "\n") {
			t.Errorf("-engines %s: %v", list, err)
		}
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"archway-proxy (default)": "archway-proxy-default", "archway-proxy epoll:2": "archway-proxy-epoll-2", "nginx": "nginx", "epoll:2": "epoll-2",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStartSettings(t *testing.T) {
	text := "time=2026-11-23T09:00:00Z level=INFO msg=\"colours from the environment\" vars=BLUE,GREEN\n" +
		"time=2026-11-23T09:00:00Z level=INFO msg=\"archway-proxy starting\" version=dev commit=x addr=127.0.0.1:1 admin=127.0.0.1:2 provider=env engine=epoll gomaxprocs=2 loops=2\n"
	if got := startSettings(text); got != "engine=epoll gomaxprocs=2 loops=2" {
		t.Errorf("text: %q", got)
	}
	js := `{"time":"x","level":"INFO","msg":"archway-proxy starting","engine":"nethttp","gomaxprocs":1}` + "\n"
	if got := startSettings(js); got != "engine=nethttp gomaxprocs=1" {
		t.Errorf("json: %q", got)
	}
	tls := "time=x level=INFO msg=\"archway-proxy starting\" provider=env engine=\"nethttp (TLS)\" gomaxprocs=2 tls_subject=CN=127.0.0.1\n"
	if got := startSettings(tls); got != "engine=nethttp (TLS) gomaxprocs=2" {
		t.Errorf("text, TLS: %q", got)
	}
	if got := startSettings(`{"msg":"archway-proxy starting","engine":"nethttp (TLS)","gomaxprocs":2}`); got != "engine=nethttp (TLS) gomaxprocs=2" {
		t.Errorf("json, TLS: %q", got)
	}
	if got := startSettings("profproxy says nothing\n"); got != "" {
		t.Errorf("no start line: %q", got)
	}
}

func TestMissingTools(t *testing.T) {
	if got := missingTools([][2]string{{"sh", "dash"}}); got != "" {
		t.Errorf("sh: %q", got)
	}
	got := missingTools([][2]string{{"sh", "dash"}, {"/nonexistent/haproxy", "haproxy"}, {"no-such-wrk-binary", "wrk"}})
	if got != "/nonexistent/haproxy, no-such-wrk-binary not found (Debian: apt-get install haproxy wrk)" {
		t.Errorf("missing: %q", got)
	}
}

// Over as many rounds as front ends, every front end runs in every position once,
// in each shape (rotated by round + shape index).
func TestRotated(t *testing.T) {
	fronts := []string{"a", "b", "c", "d"}
	for si := range 3 {
		pos := map[string]map[int]bool{}
		for round := range len(fronts) {
			order := rotated(fronts, round+si)
			if len(order) != len(fronts) {
				t.Fatalf("rotated %v", order)
			}
			for i, f := range order {
				if pos[f] == nil {
					pos[f] = map[int]bool{}
				}
				pos[f][i] = true
			}
		}
		for _, f := range fronts {
			if len(pos[f]) != len(fronts) {
				t.Errorf("shape %d: %s took positions %v", si, f, pos[f])
			}
		}
	}
	if got := rotated(fronts, 5); fmt.Sprint(got) != "[b c d a]" || fmt.Sprint(fronts) != "[a b c d]" {
		t.Errorf("rotated(…, 5) = %v, input %v", got, fronts)
	}
}

// What a user sees for a retired engine or a missing HAProxy: one line on stderr and
// a failing exit code, before anything is built or started.
func TestRunOneLineErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"-engines", "fasthttp"}, 2, []string{"loadbench: ", "fasthttp engine was retired"}},
		{[]string{"-haproxy", "/nonexistent/haproxy"}, 1, []string{"loadbench: ", "/nonexistent/haproxy", "not found (Debian: apt-get install ", "haproxy"}},
	} {
		var stdout, stderr strings.Builder
		code := run(c.args, &stdout, &stderr)
		msg := stderr.String()
		if code != c.code || strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") || stdout.Len() != 0 {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr %q: want one line", c.args, code, c.code, stdout.String(), msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, msg, w)
			}
		}
	}
}
