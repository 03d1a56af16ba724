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
	r := &report{}
	for i, v := range []float64{10000, 9000, 11000} {
		r.add(i+1, "nginx", WrkResult{RequestsPerSec: v, P99: time.Duration(10+i) * time.Millisecond})
		r.add(i+1, "archway-proxy", WrkResult{RequestsPerSec: v * 1.1, P99: time.Duration(11+i) * time.Millisecond})
	}
	rps, p99 := r.ratios()
	if rps < 1.099 || rps > 1.101 || p99 < 12.0/11-0.001 || p99 > 12.0/11+0.001 {
		t.Errorf("ratios %v %v", rps, p99)
	}
	if !r.goalsMet() {
		t.Error("goals should be met")
	}
	r.add(4, "archway-proxy", WrkResult{RequestsPerSec: 1, P99: time.Second, Errors: 3})
	if r.goalsMet() {
		t.Error("errors must fail the goals")
	}
	var b strings.Builder
	r.print(&b)
	if !strings.Contains(b.String(), "| archway-proxy |") || !strings.Contains(b.String(), "req/s") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.threads != 2 || o.conns != 64 || o.duration != 10*time.Second || o.rounds != 3 || o.timeout <= 0 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for _, args := range [][]string{
		{"-rounds", "0"}, {"-c", "1", "-t", "2"}, {"-d", "100ms"}, {"-procs", "0"},
		{"-blue-weight", "0"}, {"-path", "x"}, {"extra"}, {"-d", "soon"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
