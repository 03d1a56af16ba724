package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

func TestLogKeepsOrderAndFlushesOnClose(t *testing.T) {
	dst := &testutil.SyncBuffer{}
	l := New(dst, "json", 0, time.Hour) // only the queue's size and Close flush
	const n = 3000                      // below DefaultMaxPending, several kicks
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for i := range n {
		l.Add(&Entry{Time: at, Target: fmt.Sprintf("/r/%d", i), Status: 200, Fault: "none"})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(dst.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["target"] != fmt.Sprintf("/r/%d", i) || m["time"] != "2026-12-03T12:00:00Z" {
			t.Fatalf("line %d: %q (%v): want target /r/%d at the entry's time, in order", i, line, err, i)
		}
	}
	if l.Dropped() != 0 {
		t.Fatalf("Dropped = %d, want 0", l.Dropped())
	}
	l.Add(&Entry{Target: "/late"})
	if l.Dropped() != 1 || strings.Contains(dst.String(), "/late") {
		t.Fatalf("an entry after Close: Dropped %d; want it dropped, counted and not written", l.Dropped())
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// stuckWriter blocks every Write until released: a log reader that stopped reading.
type stuckWriter struct {
	release chan struct{}
	testutil.SyncBuffer
}

func (s *stuckWriter) Write(p []byte) (int, error) {
	<-s.release
	return s.SyncBuffer.Write(p)
}

// TestLogNeverWaitsForAStuckDestination: while the destination takes nothing, Add
// goes on returning (this test would hang otherwise), entries beyond the queue's bound
// are dropped and counted, and every entry is either written or counted once the
// destination moves again.
func TestLogNeverWaitsForAStuckDestination(t *testing.T) {
	dst := &stuckWriter{release: make(chan struct{})}
	l := New(dst, "text", 500, time.Millisecond)
	const n = 20000
	for i := range n {
		l.Add(&Entry{Target: fmt.Sprintf("/r/%d", i)})
	}
	dropped := l.Dropped()
	if dropped == 0 {
		t.Fatalf("%d entries into a queue of 500 with a stuck destination: none dropped", n)
	}
	close(dst.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	written := uint64(strings.Count(dst.String(), "\n"))
	if written+l.Dropped() != n || l.Dropped() != dropped {
		t.Fatalf("written %d + dropped %d (%d before the release), want %d in all and no drop after", written, l.Dropped(), dropped, n)
	}
}

// refusingWriter takes the first k bytes of each write, then fails.
type refusingWriter struct{ k int }

func (f refusingWriter) Write(p []byte) (int, error) {
	return min(f.k, len(p)), errors.New("stdout closed")
}

func TestLogCountsRefusedLines(t *testing.T) {
	l := New(refusingWriter{k: 0}, "text", 0, time.Hour)
	for range 10 {
		l.Add(&Entry{Target: "/"})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != 10 {
		t.Fatalf("Dropped = %d, want 10 (the destination took none)", l.Dropped())
	}
}

// TestLogOneLineWhateverTheTarget: a target with a line break, quotes or control
// bytes (net/http's engine accepts some such) stays one line that reads back as the
// target, in both formats, so a client cannot forge log lines.
func TestLogOneLineWhateverTheTarget(t *testing.T) {
	const target = "/a\nlevel=ERROR msg=forged \"x\"\r\x00"
	e := Entry{Time: time.Now(), Client: "192.0.2.7", Method: "GET", Target: target, Status: 200, Bytes: 5,
		Duration: 1500 * time.Microsecond, Attempts: 1, Fault: "none", Engine: "epoll"}
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		l := New(&out, format, 0, time.Hour)
		l.Add(&e)
		_ = l.Close()
		got := out.String()
		if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
			t.Fatalf("%s: %q, want exactly one line", format, got)
		}
		if format == "json" {
			var m map[string]any
			if err := json.Unmarshal([]byte(got), &m); err != nil || m["target"] != target || m["duration_ms"] != 1.5 || m["msg"] != "access" {
				t.Fatalf("json: %q (%v): want target %q back, duration_ms 1.5, msg access", got, err, target)
			}
			continue
		}
		for _, want := range []string{"level=INFO", "msg=access", "client=192.0.2.7", `target="/a\nlevel=ERROR msg=forged \"x\"\r\x00"`,
			"status=200", "bytes=5", "duration_ms=1.5", `color=""`, "attempts=1", "fault=none", "engine=epoll"} {
			if !strings.Contains(got, want) {
				t.Errorf("text: %q lacks %s", got, want)
			}
		}
	}
}

// BenchmarkFormat is what the log's goroutine spends on one line.
func BenchmarkFormat(b *testing.B) {
	l := New(discard{}, "json", 0, time.Hour)
	b.Cleanup(func() { _ = l.Close() })
	e := &Entry{Time: time.Now(), Client: "192.0.2.7", Method: "GET", Target: "/a?b=c", Status: 200, Bytes: 5,
		Duration: 1500 * time.Microsecond, Color: "blue", Member: "http://10.0.0.5:8080", Attempts: 1, Fault: "none", Engine: "epoll"}
	b.ReportAllocs()
	for b.Loop() {
		l.out.Reset()
		l.format(e)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
