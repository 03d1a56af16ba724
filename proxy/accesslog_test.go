package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy/accesslog"
)

// TestLogAccessOneLineWhateverTheTarget: a target with a line break, quotes or a
// space (net/http's engine accepts some such, escaped or not) stays one line that
// reads back as the target, in both formats, so a client cannot forge log lines.
func TestLogAccessOneLineWhateverTheTarget(t *testing.T) {
	const target = "/a\nlevel=ERROR msg=forged \"x\"\r\x00"
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		w := accesslog.NewWriter(&out, 0, time.Hour)
		p := New(Options{AccessLog: w, AccessLogFormat: format, Logger: slog.New(slog.DiscardHandler)})
		if !p.AccessLogging() {
			t.Fatalf("%s: AccessLogging false with a writer", format)
		}
		p.LogAccess(&AccessEntry{Client: "192.0.2.7", Method: "GET", Target: target, Status: 200, Bytes: 5,
			Duration: 1500 * time.Microsecond, Attempts: 1, Engine: EngineEpoll})
		_ = w.Close()
		got := out.String()
		if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
			t.Fatalf("%s: %q, want exactly one line", format, got)
		}
		if format == "json" {
			var m map[string]any
			if err := json.Unmarshal([]byte(got), &m); err != nil || m["target"] != target || m["duration_ms"] != 1.5 || m["fault"] != "none" {
				t.Fatalf("json: %q (%v): want target %q back, duration_ms 1.5, fault none", got, err, target)
			}
			continue
		}
		for _, want := range []string{"msg=access", "client=192.0.2.7", `target="/a\nlevel=ERROR msg=forged \"x\"\r\x00"`, "status=200", "bytes=5", "duration_ms=1.5", "color=\"\"", "attempts=1", "fault=none", "engine=epoll"} {
			if !strings.Contains(got, want) {
				t.Errorf("text: %q lacks %s", got, want)
			}
		}
	}
}

func TestAccessLogOffByDefault(t *testing.T) {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if p.AccessLogging() || p.AccessLogDropped() != 0 {
		t.Fatal("access log on without a writer")
	}
	p.LogAccess(&AccessEntry{Target: "/"}) // a no-op, not a panic
	if m := metricsText(p); strings.Contains(m, "archway_access_log") {
		t.Fatal("access log metrics while the log is off")
	}
	w := accesslog.NewWriter(&bytes.Buffer{}, 0, time.Hour)
	_ = w.Close()
	on := New(Options{Logger: slog.New(slog.DiscardHandler), AccessLog: w})
	on.LogAccess(&AccessEntry{Target: "/"}) // after Close: dropped, and counted
	if m := metricsText(on); !strings.Contains(m, "archway_access_log_dropped_total 1\n") {
		t.Fatalf("metrics lack archway_access_log_dropped_total 1:\n%s", m)
	}
}

func metricsText(p *Proxy) string {
	rec := httptest.NewRecorder()
	p.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// BenchmarkLogAccess is one access log line, JSON, queued to a discarding writer.
func BenchmarkLogAccess(b *testing.B) {
	w := accesslog.NewWriter(io.Discard, 0, 0)
	b.Cleanup(func() { _ = w.Close() })
	p := New(Options{AccessLog: w, AccessLogFormat: "json", Logger: slog.New(slog.DiscardHandler)})
	e := &AccessEntry{Client: "192.0.2.7", Method: "GET", Target: "/a?b=c", Status: 200, Bytes: 5,
		Duration: 1500 * time.Microsecond, Attempts: 1, Engine: EngineEpoll}
	b.ReportAllocs()
	for b.Loop() {
		p.LogAccess(e)
	}
}
