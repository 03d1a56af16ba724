package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

// The test binary is profproxy itself when this is set.
const beMain = "PROFPROXY_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestProxiesAndWritesProfile: it forwards with the Color header like archway-proxy
// and leaves a gzip-compressed pprof profile, named after loadbench's target, behind
// after SIGTERM.
func TestProxiesAndWritesProfile(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s backend\n", r.Header.Get("Color"))
	}))
	defer backend.Close()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	port := testutil.FreePort(t)
	cmd := exec.Command(os.Args[0], "-admin-addr", "off", "-drain", "0s")
	cmd.Env = []string{beMain + "=1", "BLUE=" + backend.URL, "PORT=" + fmt.Sprint(port), "CPUPROFILE=" + prof, "LOADBENCH_TARGET=default"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				body = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never answered: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "blue backend\n" {
		t.Errorf("body %q, want the Color header forwarded", body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	b, err := os.ReadFile(prof + ".default") // suffixed with the -engines entry
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile missing or not gzip (pprof): %d bytes, %v", len(b), err)
	}
}

func TestProfilePath(t *testing.T) {
	if got := profilePath("/tmp/p", "epoll-2", "epoll"); got != "/tmp/p.epoll-2" {
		t.Errorf("with a target: %s", got)
	}
	if got := profilePath("/tmp/p", "", "epoll"); got != "/tmp/p.epoll" {
		t.Errorf("without: %s", got)
	}
}
