package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestResolvePort(t *testing.T) {
	cases := []struct {
		flag    string
		flagSet bool
		env     string
		want    string
		wantErr string
	}{
		{want: ":8989"},
		{env: "8084", want: ":8084"},
		{flag: "8090", flagSet: true, env: "8084", want: ":8090"},
		{env: "http", wantErr: `PORT="http": want a port number 1-65535`},
		{env: "0", wantErr: `PORT="0"`},
		{flag: "70000", flagSet: true, wantErr: `-port="70000"`},
		{flag: "", flagSet: true, wantErr: `-port="": empty value`},
		{env: " ", wantErr: `PORT=" ": empty value; want a port number 1-65535`},
		{env: " 8084 ", want: ":8084"},
	}
	for _, c := range cases {
		got, err := ResolvePort(c.flag, c.flagSet, c.env, 8989)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ResolvePort(%q,%v,%q) error = %v, want %q", c.flag, c.flagSet, c.env, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ResolvePort(%q,%v,%q) = %q, %v; want %q", c.flag, c.flagSet, c.env, got, err, c.want)
		}
	}
}

func TestReadiness(t *testing.T) {
	var r Readiness
	if r.Err() == nil {
		t.Fatal("zero Readiness must not be ready")
	}
	r.Set(true)
	if err := r.Err(); err != nil {
		t.Fatalf("ready: %v", err)
	}
	r.Check = func() error { return errors.New("no healthy backend") }
	if err := r.Err(); err == nil || err.Error() != "no healthy backend" {
		t.Fatalf("Check not consulted: %v", err)
	}
}

// TestServeDrainsInFlight shuts down while a slow request is in flight: readiness must
// fail at once, and the request must still complete.
func TestServeDrainsInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ready Readiness
	ready.Set(true)
	started := make(chan struct{})
	var served atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		served.Add(1)
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, Config{Name: "test", Handler: mux, Ready: &ready, Drain: 100 * time.Millisecond, ShutdownTimeout: 5 * time.Second})
	}()
	respc := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			respc <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		respc <- string(b)
	}()
	<-started
	cancel()
	time.Sleep(20 * time.Millisecond)
	if ready.Err() == nil {
		t.Error("readiness still ok after shutdown began")
	}
	if got := <-respc; got != "done" {
		t.Errorf("in-flight request = %q, want done", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
