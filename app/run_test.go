package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
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
