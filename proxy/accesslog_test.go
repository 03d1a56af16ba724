package proxy

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy/accesslog"
)

// TestLogAccessNamesTheMember: LogAccess turns the engine's entry into the line's
// fields: the member's colour and URL, the fault by name.
func TestLogAccessNamesTheMember(t *testing.T) {
	dst := &testutil.SyncBuffer{}
	l := accesslog.New(dst, "json", 0, time.Hour)
	p := New(Options{AccessLog: l, Logger: slog.New(slog.DiscardHandler)})
	if !p.AccessLogging() {
		t.Fatal("AccessLogging false with a log")
	}
	target, _ := url.Parse("http://10.0.0.5:8080/base")
	if err := p.Apply([]BackendSpec{{Name: "GREEN", Weight: 1, Members: []*url.URL{target}}}); err != nil {
		t.Fatal(err)
	}
	m := p.Status().Backends[0].Members[0]
	var member *Member
	for _, mm := range p.members {
		member = mm
	}
	p.LogAccess(&AccessEntry{Client: "192.0.2.7", Method: "GET", Target: "/", Status: 502, Member: member, Attempts: 2, Fault: FaultBackend, Engine: EngineNetHTTP})
	// A local answer to HEAD whose body an engine counted but the server dropped.
	p.LogAccess(&AccessEntry{Client: "192.0.2.7", Method: "HEAD", Target: "/head", Status: 503, Bytes: 12, Engine: EngineNetHTTP})
	_ = l.Close()
	first, second, _ := strings.Cut(dst.String(), "\n")
	var line, head map[string]any
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("%q: %v", dst.String(), err)
	}
	if err := json.Unmarshal([]byte(second), &head); err != nil || head["bytes"] != 0.0 {
		t.Fatalf("HEAD line %q (%v): want bytes 0", second, err)
	}
	if line["color"] != "green" || line["member"] != m.URL || line["fault"] != "backend" || line["attempts"] != 2.0 {
		t.Fatalf("line %v: want color green, member %s, fault backend, attempts 2", line, m.URL)
	}
}

func TestAccessLogOffByDefault(t *testing.T) {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if _, seen := p.AccessLogDropped(); p.AccessLogging() || seen {
		t.Fatal("access log on without a log")
	}
	p.LogAccess(&AccessEntry{Target: "/"}) // a no-op, not a panic
	if m := metricsText(p); strings.Contains(m, "archway_access_log") {
		t.Fatal("access log metrics while the log is off")
	}
	l := accesslog.New(&testutil.SyncBuffer{}, "text", 0, time.Hour)
	_ = l.Close()
	on := New(Options{Logger: slog.New(slog.DiscardHandler), AccessLog: l})
	on.LogAccess(&AccessEntry{Target: "/"}) // after Close: dropped, and counted
	if m := metricsText(on); !strings.Contains(m, "archway_access_log_dropped_total 1\n") {
		t.Fatalf("metrics lack archway_access_log_dropped_total 1:\n%s", m)
	}
}

// SetAccessLog turns the log on and off while the proxy runs (SIGHUP's ACCESS_LOG);
// the drop counter stays on /metrics once the log was on, so that it never goes back.
func TestSetAccessLogTurnsItOnAndOff(t *testing.T) {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	dst := &testutil.SyncBuffer{}
	l := accesslog.New(dst, "text", 0, time.Hour)
	p.SetAccessLog(l)
	if !p.AccessLogging() {
		t.Fatal("SetAccessLog(l): still off")
	}
	p.LogAccess(&AccessEntry{Target: "/on"})
	p.SetAccessLog(nil)
	if p.AccessLogging() {
		t.Fatal("SetAccessLog(nil): still on")
	}
	p.LogAccess(&AccessEntry{Target: "/off"})
	_ = l.Close() // writes what was queued
	if out := dst.String(); !strings.Contains(out, "target=/on") || strings.Contains(out, "/off") {
		t.Fatalf("log %q: want the line of /on alone", out)
	}
	if m := metricsText(p); !strings.Contains(m, "archway_access_log_dropped_total 0\n") {
		t.Fatalf("metrics lack archway_access_log_dropped_total 0 after the log was on:\n%s", m)
	}
}

func metricsText(p *Proxy) string {
	rec := httptest.NewRecorder()
	p.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
