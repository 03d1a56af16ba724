package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what the comparison needs from one wrk run.
type WrkResult struct {
	RequestsPerSec float64
	P50, P99       time.Duration
	Requests       int
	// Errors counts socket errors plus non-2xx/3xx responses: a fast proxy that
	// answers 502 must not look good.
	Errors int
	// CPUPerRequest is the front end's CPU time (all its processes) over the run
	// divided by Requests; filled in by the caller, not parsed.
	CPUPerRequest time.Duration
	// BackendCPUPerRequest is the same for the two backends: a front end that makes
	// them work harder (more headers, smaller reads) slows the whole run.
	BackendCPUPerRequest time.Duration
	// MachineCPUPerRequest is the whole machine's busy CPU time over the run (wrk,
	// front end, backends and whatever else ran) divided by Requests: where the
	// machine is saturated, req/s is its CPUs over this. Filled in by the caller.
	MachineCPUPerRequest time.Duration
	// Idle and Steal are the machine's idle share of its CPU time over the run (near
	// 0: the run was CPU-bound) and the share its hypervisor gave other guests (a
	// noisy neighbour's). Filled in by the caller.
	Idle, Steal float64
}

// ParseWrk reads wrk's text output (run with --latency).
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	var haveRPS, haveP99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk Requests/sec %q: %w", f[1], err)
			}
			r.RequestsPerSec, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.P50 = d
			} else {
				r.P99, haveP99 = d, true
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			// "123456 requests in 10.00s, 17.43MB read"
			r.Requests, _ = strconv.Atoi(f[0])
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			// "Socket errors: connect 0, read 12, write 0, timeout 3"
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.Atoi(strings.TrimSuffix(f[i+1], ","))
				if err == nil {
					r.Errors += n
				}
			}
		case len(f) == 5 && f[0] == "Non-2xx":
			n, err := strconv.Atoi(f[4])
			if err == nil {
				r.Errors += n
			}
		}
	}
	if !haveRPS || !haveP99 {
		return r, fmt.Errorf("wrk output lacks Requests/sec or the 99%% line (was --latency given?): %q", firstLines(out, 3))
	}
	return r, nil
}

// parseWrkDuration reads wrk's latency units: us, ms, s, m.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("wrk latency %q: %w", s, err)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("wrk latency %q: unknown unit", s)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
