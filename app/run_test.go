package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

// TestServeDrain: after cancellation /readyz fails at once while / keeps answering
// for the drain period; then Serve returns nil and the port is closed.
func TestServeDrain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := Config{Drain: 400 * time.Millisecond, ShutdownTimeout: 2 * time.Second}
	go func() { done <- Serve(ctx, ln, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz before shutdown: %d", code)
	}
	start := time.Now()
	cancel()
	deadline := time.Now().Add(200 * time.Millisecond)
	for {
		code, _ := get("/readyz")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d during drain", code)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, body := get("/"); code != 200 || body == "" {
		t.Errorf("GET / during drain: %d %q", code, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if el := time.Since(start); el < cfg.Drain {
		t.Errorf("returned after %v, before the %v drain", el, cfg.Drain)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("port still open after shutdown")
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), Config{Addr: ln.Addr().String(), ShutdownTimeout: time.Second}, nil)
	if err == nil {
		t.Fatal("Run on a taken port succeeded")
	}
}

// TestServeFaults: the configured faults and release reach the real server and the
// start line.
func TestServeFaults(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testutil.SyncBuffer
	cfg := Config{ShutdownTimeout: 2 * time.Second, Release: "r-20261201-143015",
		Faults: Faults{FailRate: 0.5, FailStatus: 503, Delay: time.Millisecond}}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, cfg, slog.New(slog.NewTextHandler(&logs, nil))) }()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	platform := DetectPlatform().String()
	// At 0.5 request 1 is answered and request 2 fails.
	code, body := get("/api/info")
	var info Info
	if err := json.Unmarshal([]byte(body), &info); code != 200 || err != nil {
		t.Fatalf("/api/info: %d %v %q", code, err, body)
	}
	if info.Release != cfg.Release || info.Faults == nil || info.Faults.Summary != "FAIL_RATE=0.5 FAIL_STATUS=503 DELAY=1ms" {
		t.Errorf("release %q faults %+v", info.Release, info.Faults)
	}
	if code, body := get("/"); code != 503 || body != "injected fault: FAIL_RATE=0.5 on "+platform+"\n" {
		t.Errorf("GET / #2: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); !strings.Contains(out, `release=r-20261201-143015 faults="FAIL_RATE=0.5 FAIL_STATUS=503 DELAY=1ms"`) {
		t.Errorf("start line lacks release and faults:\n%s", out)
	}
}

func TestStartAttrs(t *testing.T) {
	line := func(cfg Config) string {
		var b strings.Builder
		slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		})).Info("archway-app", startAttrs(testPlatform, cfg)...)
		return b.String()
	}
	if got := line(Config{}); !strings.HasSuffix(got, `release="" faults=none`+"\n") {
		t.Errorf("no faults: %q", got)
	}
	got := line(Config{Faults: Faults{FailRate: 0.3, FailStatus: 500, FailPlatform: "linux/amd64", Delay: time.Second, DelayPlatform: "linux/arm/v7"}})
	if !strings.HasSuffix(got, `faults="DELAY=1s DELAY_PLATFORM=linux/arm/v7" faults_other_platforms="FAIL_RATE=0.3 FAIL_STATUS=500 FAIL_PLATFORM=linux/amd64"`+"\n") {
		t.Errorf("limited faults: %q", got)
	}
	if n := strings.Count(got, "\n"); n != 1 {
		t.Errorf("%d lines", n)
	}
}
