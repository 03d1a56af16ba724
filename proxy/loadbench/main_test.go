package main

import (
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
	r := &report{opts: options{targets: targets, rounds: 3}}
	std, fast := targets[0].name, targets[1].name
	for i, v := range []float64{10000, 9000, 11000} {
		r.add(i+1, "nginx", WrkResult{RequestsPerSec: v, P99: time.Duration(10+i) * time.Millisecond})
		r.add(i+1, std, WrkResult{RequestsPerSec: v * 1.1, P99: time.Duration(11+i) * time.Millisecond})
		r.add(i+1, fast, WrkResult{RequestsPerSec: v / 2, P99: time.Duration(30+i) * time.Millisecond})
	}
	rps, p99 := r.ratios(std)
	if rps < 1.099 || rps > 1.101 || p99 < 12.0/11-0.001 || p99 > 12.0/11+0.001 {
		t.Errorf("std ratios %v %v", rps, p99)
	}
	if rps, p99 := r.ratios(fast); rps != 0.5 || p99 < 31.0/11-0.001 || p99 > 31.0/11+0.001 {
		t.Errorf("fasthttp ratios %v %v", rps, p99)
	}
	if !r.goalsMet(std) || r.goalsMet(fast) || !r.anyGoalsMet() {
		t.Error("goals: want met by nethttp only")
	}
	var b strings.Builder
	r.print(&b)
	for _, want := range []string{"| archway-proxy nethttp | 11000 |", "| 1.10× | 1.09× |", "| archway-proxy fasthttp | 5000 |", "| 0.50× | 2.82× |",
		"archway-proxy fasthttp / nginx: req/s 0.50× (goal ≥ 1.0×: MISSED)",
		"archway-proxy nethttp: 1.10, 1.10, 1.10 (median 1.10×, range 1.10–1.10×)",
		"archway-proxy fasthttp: 0.50, 0.50, 0.50 (median 0.50×"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	r.add(4, std, WrkResult{RequestsPerSec: 1, P99: time.Second, Errors: 3})
	if r.goalsMet(std) || r.anyGoalsMet() {
		t.Error("errors must fail the goals")
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.threads != 2 || o.conns != 64 || o.duration != 10*time.Second || o.rounds != 3 || o.timeout <= 0 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-engines", "epoll, epoll:1"}, io.Discard)
	if err != nil || len(o.targets) != 2 || strings.Join(o.targets[1].args, " ") != "-engine epoll -loops 1" || o.targets[1].name != "archway-proxy epoll:1" {
		t.Errorf("-engines epoll, epoll:1: %+v %v", o.targets, err)
	}
	for _, args := range [][]string{
		{"-rounds", "0"}, {"-c", "1", "-t", "2"}, {"-d", "100ms"}, {"-procs", "0"},
		{"-blue-weight", "0"}, {"-path", "x"}, {"extra"}, {"-d", "soon"},
		{"-engines", "nginx"}, {"-engines", "fasthttp:2"}, {"-engines", "epoll:0"}, {"-engines", "epoll,epoll"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
