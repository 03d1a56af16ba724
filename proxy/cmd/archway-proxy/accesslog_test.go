package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAccessLogOnStdout: with ACCESS_LOG=true each request is one JSON line on stdout
// (the process's own log stays on stderr), the readiness probes are not among them,
// and every line is out when the process has exited (the queue's flush on Close is
// proxy/accesslog's TestWriterKeepsOrderAndFlushesOnClose).
func TestAccessLogOnStdout(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer backend.Close()
	m := startMain(t, "-drain 100ms -log-format json", "ACCESS_LOG=true", "BLUE="+backend.URL)
	client := &http.Client{Timeout: 5 * time.Second}
	const n = 20
	for range n {
		resp, err := client.Get(m.base + "/x?y=1")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-m.done
	if m.err != nil {
		t.Fatalf("exit: %v\n%s", m.err, m.logs.String())
	}
	lines := strings.Split(strings.TrimSpace(m.out.String()), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines on stdout, want %d (one per request, no probe):\n%s", len(lines), n, m.out.String())
	}
	for _, line := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil || e["msg"] != "access" || e["target"] != "/x?y=1" || e["status"] != 200.0 || e["bytes"] != 5.0 || e["member"] != backend.URL {
			t.Fatalf("stdout line %q (%v): want an access line for /x?y=1, 200, 5 bytes, member %s", line, err, backend.URL)
		}
	}
	if strings.Contains(m.logs.String(), `"msg":"access"`) || !strings.Contains(m.logs.String(), `"access_log":true`) {
		t.Fatalf("stderr should say the access log is on and hold none of its lines:\n%s", m.logs.String())
	}
}
