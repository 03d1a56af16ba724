package main

import (
	"strings"
	"testing"
	"time"
)

// Real output of Debian's wrk 4.1.0 with --latency.
const wrkSample = `Running 2s test @ http://127.0.0.1:44299/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.96ms    8.19ms  73.80ms   89.04%
    Req/Sec     4.99k     1.68k    8.62k    75.00%
  Latency Distribution
     50%    5.34ms
     75%    9.39ms
     90%   17.09ms
     99%   42.28ms
  19979 requests in 2.02s, 4.36MB read
Requests/sec:   9914.03
Transfer/sec:      2.17MB
`

func TestParseWrk(t *testing.T) {
	r, err := ParseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestsPerSec != 9914.03 || r.P99 != 42280*time.Microsecond || r.P50 != 5340*time.Microsecond || r.Requests != 19979 || r.Errors != 0 {
		t.Errorf("%+v", r)
	}
}

func TestParseWrkErrors(t *testing.T) {
	out := strings.Replace(wrkSample, "Requests/sec:", "  Socket errors: connect 1, read 12, write 0, timeout 3\n  Non-2xx or 3xx responses: 40\nRequests/sec:", 1)
	r, err := ParseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 56 {
		t.Errorf("errors = %d, want 1+12+3+40", r.Errors)
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	noLatency := strings.Replace(wrkSample, "     99%   42.28ms\n", "", 1)
	for name, out := range map[string]string{"empty": "", "no --latency": noLatency, "garbage": "unable to connect to 127.0.0.1:1 Connection refused\n"} {
		if _, err := ParseWrk(out); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	bad := strings.Replace(wrkSample, "42.28ms", "42.28parsecs", 1)
	if _, err := ParseWrk(bad); err == nil {
		t.Error("unknown unit accepted")
	}
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"812.00us": 812 * time.Microsecond, "1.50ms": 1500 * time.Microsecond, "2.00s": 2 * time.Second, "1.00m": time.Minute,
	} {
		got, err := parseWrkDuration(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
}
