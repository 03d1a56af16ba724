package main

import (
	"fmt"
	"io"
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

func TestReportRatios(t *testing.T) {
	targets, err := parseEngines(defaultEngines)
	if err != nil {
		t.Fatal(err)
	}
	shapes, err := parseShapes("t1c16,t2c64")
	if err != nil {
		t.Fatal(err)
	}
	r := &report{opts: options{targets: targets, shapes: shapes, rounds: 3}}
	std, fast := targets[0].name, targets[1].name // default, nethttp
	for i, v := range []float64{10000, 9000, 11000} {
		for _, sh := range []string{"t1c16", "t2c64"} {
			r.add(i+1, sh, "nginx", WrkResult{RequestsPerSec: v, P99: time.Duration(10+i) * time.Millisecond, CPUPerRequest: 40 * time.Microsecond})
			r.add(i+1, sh, "haproxy", WrkResult{RequestsPerSec: v * 1.25, P99: time.Duration(20+i) * time.Millisecond, CPUPerRequest: 50 * time.Microsecond})
			r.add(i+1, sh, fast, WrkResult{RequestsPerSec: v / 2, P99: time.Duration(30+i) * time.Millisecond})
		}
		r.add(i+1, "t1c16", std, WrkResult{RequestsPerSec: v * 1.1, P99: time.Duration(11+i) * time.Millisecond, CPUPerRequest: 30 * time.Microsecond})
		r.add(i+1, "t2c64", std, WrkResult{RequestsPerSec: v * 1.2, P99: time.Duration(11+i) * time.Millisecond, CPUPerRequest: 30 * time.Microsecond})
	}
	rps, p99 := r.ratios("t1c16", std)
	if rps < 1.099 || rps > 1.101 || p99 < 12.0/11-0.001 || p99 > 12.0/11+0.001 {
		t.Errorf("std ratios %v %v", rps, p99)
	}
	if rps, _ := r.ratios("t2c64", std); rps < 1.199 || rps > 1.201 {
		t.Errorf("std ratios t2c64 %v: the shapes mixed", rps)
	}
	if rps, p99 := r.ratios("t2c64", fast); rps != 0.5 || p99 < 31.0/11-0.001 || p99 > 31.0/11+0.001 {
		t.Errorf("nethttp ratios %v %v", rps, p99)
	}
	if !r.goalsMet(std) || r.goalsMet(fast) || !r.anyGoalsMet() {
		t.Error("goals: want met by the default only")
	}
	var b strings.Builder
	r.startLogs = map[string]string{std: "engine=epoll gomaxprocs=2 loops=2"}
	r.print(&b)
	if rps, p99, cpu := r.ratiosOver("t1c16", std, "haproxy"); rps < 0.879 || rps > 0.881 || p99 < 12.0/21-0.001 || p99 > 12.0/21+0.001 || cpu != 0.6 {
		t.Errorf("default over HAProxy: %v %v %v", rps, p99, cpu)
	}
	for _, want := range []string{"=== t1c16: wrk -t1 -c16 ===", "=== t2c64: wrk -t2 -c64 ===",
		"| archway-proxy (default) | 11000 |", "| 1.10× | 1.09× | 0.75× | 0.88× | 0.57× | 0.60× |", "| archway-proxy nethttp | 5000 |", "| 0.50× | 2.82× |",
		"| archway-proxy (default) | 12000 |", "| 1.20× | 1.09× | 0.75× | 0.96× |",
		"| haproxy | 12500 | 0s | 21ms | 50.0µs |",
		"t2c64 archway-proxy nethttp / nginx: req/s 0.50× (goal ≥ 1.0×: MISSED)",
		"archway-proxy (default): 1.10, 1.10, 1.10 (median 1.10×, range 1.10–1.10×)",
		"t1c16: req/s over haproxy's in the same round", "archway-proxy (default): 0.88, 0.88, 0.88 (median 0.88×",
		"archway-proxy nethttp: 0.50, 0.50, 0.50 (median 0.50×",
		"archway-proxy start logs: archway-proxy (default): engine=epoll gomaxprocs=2 loops=2\n",
		"in 2 shapes (t1c16, t2c64; tNcM = -tN -cM)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	r.add(4, "t2c64", std, WrkResult{RequestsPerSec: 1, P99: time.Second, Errors: 3})
	if r.goalsMet(std) || r.anyGoalsMet() {
		t.Error("errors in one shape must fail the goals")
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
		{"-shapes", "2x64"}, {"-shapes", "t2c"}, {"-shapes", "t2c64,t2c64"}, {"-shapes", ""}, {"-keepalive", "-1"}, {"-d", "100ms"}, {"-procs", "0"},
		{"-blue-weight", "0"}, {"-path", "x"}, {"extra"}, {"-d", "soon"},
		{"-engines", "nginx"}, {"-engines", "nethttp:2"}, {"-engines", "epoll:0"}, {"-engines", "epoll,epoll"},
		{"-engines", "default:2"}, {"-engines", "default,default"}, {"-engines", ""},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
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
