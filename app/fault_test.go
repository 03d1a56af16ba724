package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    Faults
		wantErr string
	}{
		{name: "none", want: Faults{}},
		{name: "blank is unset", env: map[string]string{"FAIL_RATE": " ", "DELAY": "\t"}, want: Faults{}},
		{name: "rate with default status", env: map[string]string{"FAIL_RATE": "0.3"}, want: Faults{FailRate: 0.3, FailStatus: 500}},
		{name: "rate trimmed", env: map[string]string{"FAIL_RATE": " 1 "}, want: Faults{FailRate: 1, FailStatus: 500}},
		{name: "rate 0 is off but valid", env: map[string]string{"FAIL_RATE": "0", "FAIL_STATUS": "503", "FAIL_PLATFORM": "linux/386"},
			want: Faults{FailStatus: 503, FailPlatform: "linux/386"}},
		{name: "exponent", env: map[string]string{"FAIL_RATE": "5e-2"}, want: Faults{FailRate: 0.05, FailStatus: 500}},
		{name: "rounded to 1e-9", env: map[string]string{"FAIL_RATE": "0.1234567891234"}, want: Faults{FailRate: 0.123456789, FailStatus: 500}},
		{name: "all", env: map[string]string{"FAIL_RATE": "0.25", "FAIL_STATUS": "503", "FAIL_PLATFORM": "linux/arm/v7", "DELAY": "200ms", "DELAY_PLATFORM": "linux/arm64"},
			want: Faults{FailRate: 0.25, FailStatus: 503, FailPlatform: "linux/arm/v7", Delay: 200 * time.Millisecond, DelayPlatform: "linux/arm64"}},
		{name: "delay alone", env: map[string]string{"DELAY": "1.5s"}, want: Faults{Delay: 1500 * time.Millisecond}},
		{name: "delay 0", env: map[string]string{"DELAY": "0", "DELAY_PLATFORM": "linux/amd64"}, want: Faults{DelayPlatform: "linux/amd64"}},
		{name: "delay at the limit", env: map[string]string{"DELAY": "1m"}, want: Faults{Delay: time.Minute}},
		{name: "default variants dropped", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/arm64/v8", "DELAY": "1ms", "DELAY_PLATFORM": "linux/amd64/v1"},
			want: Faults{FailRate: 1, FailStatus: 500, FailPlatform: "linux/arm64", Delay: time.Millisecond, DelayPlatform: "linux/amd64"}},
		{name: "other variants kept", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/amd64/v3"},
			want: Faults{FailRate: 1, FailStatus: 500, FailPlatform: "linux/amd64/v3"}},

		{name: "rate above 1", env: map[string]string{"FAIL_RATE": "1.5"}, wantErr: `FAIL_RATE="1.5": want a number from 0 to 1`},
		{name: "rate negative", env: map[string]string{"FAIL_RATE": "-0.1"}, wantErr: `FAIL_RATE="-0.1": want a number from 0 to 1`},
		{name: "rate NaN", env: map[string]string{"FAIL_RATE": "NaN"}, wantErr: `FAIL_RATE="NaN": want a number from 0 to 1`},
		{name: "rate below resolution", env: map[string]string{"FAIL_RATE": "1e-10"}, wantErr: `FAIL_RATE="1e-10": below the resolution of 1e-9; want 0 or a rate of at least 1e-9`},
		{name: "rate Inf", env: map[string]string{"FAIL_RATE": "+Inf"}, wantErr: `FAIL_RATE="+Inf": want a number from 0 to 1`},
		{name: "rate out of float range", env: map[string]string{"FAIL_RATE": "1e400"}, wantErr: `FAIL_RATE="1e400"`},
		{name: "rate percent", env: map[string]string{"FAIL_RATE": "30%"}, wantErr: `FAIL_RATE="30%": want a number from 0 to 1`},
		{name: "rate fraction", env: map[string]string{"FAIL_RATE": "1/3"}, wantErr: `FAIL_RATE="1/3"`},
		{name: "rate garbage", env: map[string]string{"FAIL_RATE": "0.3; rm -rf /"}, wantErr: `FAIL_RATE="0.3; rm -rf /"`},
		{name: "rate trailing newline trimmed", env: map[string]string{"FAIL_RATE": "0.3\n"}, want: Faults{FailRate: 0.3, FailStatus: 500}},
		{name: "rate newline inside", env: map[string]string{"FAIL_RATE": "0.\n3"}, wantErr: `FAIL_RATE="0.\n3"`},
		{name: "status 404", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "404"}, wantErr: `FAIL_STATUS="404": want an HTTP status from 500 to 599`},
		{name: "status 600", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "600"}, wantErr: `FAIL_STATUS="600"`},
		{name: "status word", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "bad gateway"}, wantErr: `FAIL_STATUS="bad gateway"`},
		{name: "status float", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "502.0"}, wantErr: `FAIL_STATUS="502.0"`},
		{name: "status without rate", env: map[string]string{"FAIL_STATUS": "503"}, wantErr: `FAIL_STATUS="503": needs FAIL_RATE`},
		{name: "platform without rate", env: map[string]string{"FAIL_PLATFORM": "linux/arm/v7"}, wantErr: `FAIL_PLATFORM="linux/arm/v7": needs FAIL_RATE`},
		{name: "platform arch only", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "arm"}, wantErr: `FAIL_PLATFORM="arm": want os/arch[/variant] such as linux/arm/v7`},
		{name: "platform too long", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/arm/v7/x"}, wantErr: `FAIL_PLATFORM="linux/arm/v7/x": want os/arch`},
		{name: "platform empty part", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux//v7"}, wantErr: `FAIL_PLATFORM="linux//v7"`},
		{name: "platform trailing slash", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/amd64/"}, wantErr: `FAIL_PLATFORM="linux/amd64/"`},
		{name: "platform upper case", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "Linux/ARM64"}, wantErr: `FAIL_PLATFORM="Linux/ARM64"`},
		{name: "platform uname form", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/x86_64"}, wantErr: `FAIL_PLATFORM="linux/x86_64"`},
		{name: "platform list", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/arm64,linux/amd64"}, wantErr: `FAIL_PLATFORM="linux/arm64,linux/amd64"`},
		{name: "delay negative", env: map[string]string{"DELAY": "-1s"}, wantErr: `DELAY="-1s": want a duration from 0 to 1m0s such as 200ms`},
		{name: "delay above 60s", env: map[string]string{"DELAY": "61s"}, wantErr: `DELAY="61s": want a duration from 0 to 1m0s`},
		{name: "delay without unit", env: map[string]string{"DELAY": "200"}, wantErr: `DELAY="200"`},
		{name: "delay overflow", env: map[string]string{"DELAY": "9999999999h"}, wantErr: `DELAY="9999999999h"`},
		{name: "delay platform without delay", env: map[string]string{"DELAY_PLATFORM": "linux/386"}, wantErr: `DELAY_PLATFORM="linux/386": needs DELAY`},
		{name: "delay platform bad", env: map[string]string{"DELAY": "1s", "DELAY_PLATFORM": "linux"}, wantErr: `DELAY_PLATFORM="linux": want os/arch[/variant]`},
		{name: "huge value cut", env: map[string]string{"FAIL_RATE": strings.Repeat("9", 5000)}, wantErr: `FAIL_RATE="` + strings.Repeat("9", 80) + `"… (5000 bytes): want a number from 0 to 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseFaults(envOf(c.env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, c.wantErr)
				}
				if strings.ContainsAny(err.Error(), "\r\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseRelease(t *testing.T) {
	for _, ok := range []string{"", "r-20261201-143015", "v1.2.3+build.7", "blue green (ça marche)", " padded ", strings.Repeat("é", MaxReleaseLen)} {
		if got, err := ParseRelease(ok); err != nil || got != ok {
			t.Errorf("ParseRelease(%q) = %q, %v; want it unchanged", ok, got, err)
		}
	}
	for _, bad := range []string{"r1\n", "r1\tr2", "\x1b[31mred", "r1\x00", "a\u200bb", "a\u202eb", "\xff\xfe", strings.Repeat("x", MaxReleaseLen+1)} {
		_, err := ParseRelease(bad)
		if err == nil {
			t.Errorf("ParseRelease(%q) accepted", bad)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "ARCHWAY_RELEASE=") || !strings.HasSuffix(msg, ": want at most 64 printable characters") || strings.ContainsAny(msg, "\r\n\x1b\x00") {
			t.Errorf("ParseRelease(%q): error %q", bad, msg)
		}
	}
}

func TestFaultsOnAndString(t *testing.T) {
	f := Faults{FailRate: 0.3, FailStatus: 503, FailPlatform: "linux/arm/v7", Delay: 200 * time.Millisecond}
	if got := f.On("linux/arm/v7").String(); got != "FAIL_RATE=0.3 FAIL_STATUS=503 FAIL_PLATFORM=linux/arm/v7 DELAY=200ms" {
		t.Errorf("on arm/v7: %q", got)
	}
	if got := f.On("linux/amd64").String(); got != "DELAY=200ms" {
		t.Errorf("on amd64: %q", got)
	}
	if (Faults{FailRate: 1, FailPlatform: "linux/386"}).On("linux/amd64").Active() {
		t.Error("a fault for another platform is active")
	}
	if got := (Faults{FailRate: 1}).String(); got != "FAIL_RATE=1 FAIL_STATUS=500" {
		t.Errorf("default status: %q", got)
	}
	if (Faults{}).Active() || (Faults{}).String() != "" {
		t.Error("zero Faults injects something")
	}
}

// faultHandler is the test handler (platform linux/arm/v7) with faults.
func faultHandler(f Faults) http.Handler {
	return NewHandler(Options{Hostname: "e99a62b52d1d", Platform: testPlatform, Faults: f, Release: "r-7"})
}

// serve runs one request with ctx and returns the recorder.
func serve(h http.Handler, ctx context.Context, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// failures counts the injected failures among n sequential requests to /.
func failures(t *testing.T, h http.Handler, n int) int {
	t.Helper()
	failed := 0
	for range n {
		rec := serve(h, context.Background(), "/")
		switch rec.Code {
		case 200:
		case 503:
			failed++
		default:
			t.Fatalf("status %d %q", rec.Code, rec.Body.String())
		}
	}
	return failed
}

func TestFailRateIsExact(t *testing.T) {
	for _, c := range []struct {
		rate float64
		n    int
		want int
	}{
		{0.3, 100, 30},
		// 0.29 and 0.57 are the float64 traps: floor(100*0.29) is 28 in floating point.
		{0.29, 100, 29},
		{0.57, 100, 57},
		{0.5, 10, 5},
		{1, 50, 50},
		{0.001, 999, 0},
		{0.001, 1000, 1},
		{0.000000001, 1000, 0},
	} {
		h := faultHandler(Faults{FailRate: c.rate, FailStatus: 503})
		if got := failures(t, h, c.n); got != c.want {
			t.Errorf("FAIL_RATE=%v: %d of %d failed, want %d", c.rate, got, c.n, c.want)
		}
	}
}

// Every prefix of the sequence holds floor(N·rate) failures, and they are spread
// evenly: at 0.3 the first failure is request 4 (floor(4·0.3) = 1).
func TestFailRatePrefixes(t *testing.T) {
	f := newFaulter(Faults{FailRate: 0.29}, "linux/amd64")
	failed := 0
	for n := 1; n <= 10000; n++ {
		if f.fail() {
			failed++
		}
		if want := n * 29 / 100; failed != want {
			t.Fatalf("after %d requests %d failed, want %d", n, failed, want)
		}
	}
	f = newFaulter(Faults{FailRate: 0.3}, "linux/amd64")
	var seq []bool
	for range 10 {
		seq = append(seq, f.fail())
	}
	if want := []bool{false, false, false, true, false, false, true, false, false, true}; !equalBools(seq, want) {
		t.Errorf("0.3 sequence %v, want %v", seq, want)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The counter far beyond 2^64/1e9 requests: the 128-bit product keeps the share exact.
func TestFailRateLargeCounter(t *testing.T) {
	f := newFaulter(Faults{FailRate: 0.3}, "linux/amd64")
	f.n.Store(1 << 62)
	failed := 0
	for range 1000 {
		if f.fail() {
			failed++
		}
	}
	if failed != 300 {
		t.Errorf("%d of 1000 failed past 2^62, want 300", failed)
	}
}

// Concurrent requests share one counter: the total is still exact (run with -race).
func TestFailRateConcurrent(t *testing.T) {
	h := faultHandler(Faults{FailRate: 0.3})
	const workers, each = 8, 125
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if rec := serve(h, context.Background(), "/api/info"); rec.Code == 500 {
					failed.Add(1)
				} else if rec.Code != 200 {
					t.Errorf("status %d", rec.Code)
				}
			}
		})
	}
	wg.Wait()
	if got := failed.Load(); got != 300 {
		t.Errorf("%d of %d failed, want 300", got, workers*each)
	}
}

func TestFailResponse(t *testing.T) {
	h := faultHandler(Faults{FailRate: 1, FailStatus: 502})
	for _, path := range []string{"/", "/api/info", "/ui"} {
		rec := serve(h, context.Background(), path)
		if rec.Code != 502 || rec.Body.String() != "injected fault: FAIL_RATE=1 on linux/arm/v7\n" {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
	}
	// FailStatus 0 (Options built by hand) is the default 500.
	if rec := serve(faultHandler(Faults{FailRate: 1}), context.Background(), "/"); rec.Code != 500 {
		t.Errorf("default status: %d", rec.Code)
	}
}

// A request whose context is already cancelled shows a delay without waiting for
// one: a delayed route writes nothing, an undelayed one answers.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestHealthNeverFailsOrWaits(t *testing.T) {
	h := faultHandler(Faults{FailRate: 1, Delay: time.Hour})
	for _, path := range []string{"/healthz", "/readyz"} {
		for range 3 {
			if rec := serve(h, cancelled(), path); rec.Code != 200 || rec.Body.String() != "ok\n" {
				t.Errorf("%s: %d %q", path, rec.Code, rec.Body.String())
			}
		}
	}
	if rec := serve(h, cancelled(), "/"); rec.Body.Len() != 0 {
		t.Errorf("/ did not wait: %d %q", rec.Code, rec.Body.String())
	}
}

// Faults limited to another platform change nothing; limited to this one they apply.
func TestFaultPlatformLimit(t *testing.T) {
	other := faultHandler(Faults{FailRate: 1, FailStatus: 503, FailPlatform: "linux/amd64", Delay: time.Hour, DelayPlatform: "linux/arm64"})
	for range 5 {
		if rec := serve(other, cancelled(), "/"); rec.Code != 200 || rec.Body.String() != "unknown e99a62b52d1d linux/arm/v7\n" {
			t.Fatalf("fault for another platform applied: %d %q", rec.Code, rec.Body.String())
		}
	}
	var info Info
	if err := json.Unmarshal(serve(other, context.Background(), "/api/info").Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.Faults != nil {
		t.Errorf("faults reported for another platform: %+v", info.Faults)
	}
	// linux/arm/v6 is not linux/arm/v7: a variant is part of the platform.
	if rec := serve(faultHandler(Faults{FailRate: 1, FailPlatform: "linux/arm/v6"}), context.Background(), "/"); rec.Code != 200 {
		t.Errorf("arm/v6 fault on arm/v7: %d", rec.Code)
	}
	here := faultHandler(Faults{FailRate: 1, FailStatus: 503, FailPlatform: "linux/arm/v7"})
	if rec := serve(here, context.Background(), "/"); rec.Code != 503 {
		t.Errorf("fault for this platform not applied: %d %q", rec.Code, rec.Body.String())
	}
	delayHere := faultHandler(Faults{Delay: time.Hour, DelayPlatform: "linux/arm/v7"})
	if rec := serve(delayHere, cancelled(), "/"); rec.Body.Len() != 0 {
		t.Errorf("delay for this platform not applied: %d %q", rec.Code, rec.Body.String())
	}
}

func TestDelay(t *testing.T) {
	const d = 5 * time.Millisecond
	h := faultHandler(Faults{Delay: d})
	start := time.Now()
	rec := serve(h, context.Background(), "/")
	// Only the lower bound is certain: a timer never fires early.
	if el := time.Since(start); el < d {
		t.Errorf("answered after %v, before the %v delay", el, d)
	}
	if rec.Code != 200 || rec.Body.String() != "unknown e99a62b52d1d linux/arm/v7\n" {
		t.Errorf("delayed answer: %d %q", rec.Code, rec.Body.String())
	}
}

// A client that goes away ends the wait: the handler returns, writes nothing, and the
// request does not count towards the failure share.
func TestDelayCancelledByContext(t *testing.T) {
	f := newFaulter(Faults{FailRate: 1, Delay: time.Hour}, "linux/arm/v7")
	ctx, cancel := context.WithCancel(context.Background())
	served := false
	h := f.wrap(func(http.ResponseWriter, *http.Request) { served = true })
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(h, ctx, "/") }()
	cancel()
	select {
	case rec := <-done:
		if served || rec.Body.Len() != 0 || rec.Code != 200 || len(rec.Header()) != 0 {
			t.Errorf("cancelled request answered: served %v, %d %q", served, rec.Code, rec.Body.String())
		}
	case <-time.After(30 * time.Second):
		// A deadlock guard, not a speed check: without cancellation this waits an hour.
		t.Fatal("the delay ignored the cancelled context")
	}
	if n := f.n.Load(); n != 0 {
		t.Errorf("cancelled request counted: n = %d", n)
	}
}

func TestInfoReleaseAndFaults(t *testing.T) {
	decode := func(h http.Handler) (map[string]json.RawMessage, Info) {
		t.Helper()
		body := serve(h, context.Background(), "/api/info").Body.Bytes()
		var raw map[string]json.RawMessage
		var info Info
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(body, &info); err != nil {
			t.Fatal(err)
		}
		return raw, info
	}
	raw, info := decode(faultHandler(Faults{}))
	if _, ok := raw["faults"]; ok {
		t.Errorf("faults present without faults: %s", raw["faults"])
	}
	if info.Release != "r-7" {
		t.Errorf("release %q", info.Release)
	}
	if raw, _ := decode(NewHandler(Options{Platform: testPlatform})); string(raw["release"]) != `""` {
		t.Errorf("release without ARCHWAY_RELEASE: %s, want \"\"", raw["release"])
	}
	// A rate of 0 leaves only the delay; the delay is 1ns so the request is not slowed.
	_, info = decode(faultHandler(Faults{FailStatus: 503, Delay: time.Nanosecond, DelayPlatform: "linux/arm/v7"}))
	want := FaultInfo{DelayMS: 1e-6, DelayPlatform: "linux/arm/v7", Summary: "DELAY=1ns DELAY_PLATFORM=linux/arm/v7"}
	if info.Faults == nil || *info.Faults != want {
		t.Errorf("faults %+v, want %+v", info.Faults, want)
	}
	// FAIL_RATE=1e-9 fails request 1e9 only, so /api/info answers here.
	_, info = decode(faultHandler(Faults{FailRate: 1e-9, FailStatus: 599, FailPlatform: "linux/arm/v7"}))
	want = FaultInfo{FailRate: 1e-9, FailStatus: 599, FailPlatform: "linux/arm/v7", Summary: "FAIL_RATE=1e-09 FAIL_STATUS=599 FAIL_PLATFORM=linux/arm/v7"}
	if info.Faults == nil || *info.Faults != want {
		t.Errorf("faults %+v, want %+v", info.Faults, want)
	}
}
