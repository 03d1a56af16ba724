package accesslog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

func TestWriterKeepsOrderAndFlushesOnClose(t *testing.T) {
	dst := &testutil.SyncBuffer{}
	w := NewWriter(dst, 0, time.Hour) // only size and Close flush
	var want strings.Builder
	for i := range 5000 {
		line := fmt.Sprintf("record %d\n", i)
		want.WriteString(line)
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dst.String(); got != want.String() {
		t.Fatalf("wrote %d bytes, want the %d bytes written, in order", len(got), want.Len())
	}
	if w.Dropped() != 0 {
		t.Fatalf("Dropped = %d, want 0", w.Dropped())
	}
	if _, err := w.Write([]byte("late\n")); err != nil || w.Dropped() != 1 {
		t.Fatalf("a record after Close: err %v, Dropped %d; want it dropped and counted", err, w.Dropped())
	}
	if err := w.Close(); err != nil {
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

// TestWriterNeverWaitsForAStuckDestination: while the destination takes nothing,
// Write goes on returning (this test would hang otherwise), records beyond the
// queue's bound are dropped and counted, and every record is either written or
// counted once the destination moves again.
func TestWriterNeverWaitsForAStuckDestination(t *testing.T) {
	dst := &stuckWriter{release: make(chan struct{})}
	w := NewWriter(dst, 64<<10, time.Millisecond)
	const n = 20000
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range n {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	dropped := w.Dropped()
	if dropped == 0 {
		t.Fatalf("%d records of %d bytes into a 64 KiB queue with a stuck destination: none dropped", n, len(line))
	}
	close(dst.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	written := uint64(strings.Count(dst.String(), "\n"))
	if written+w.Dropped() != n || w.Dropped() != dropped {
		t.Fatalf("written %d + dropped %d (%d before the release), want %d in all and no drop after", written, w.Dropped(), dropped, n)
	}
}

// failingWriter refuses everything after the first k bytes of each write.
type failingWriter struct{ k int }

func (f failingWriter) Write(p []byte) (int, error) {
	return min(f.k, len(p)), errors.New("stdout closed")
}

func TestWriterCountsRefusedRecords(t *testing.T) {
	w := NewWriter(failingWriter{k: 6}, 0, time.Hour)
	for range 10 {
		_, _ = w.Write([]byte("12345\n")) // the first record fits the 6 bytes taken
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Dropped() != 9 {
		t.Fatalf("Dropped = %d, want 9 (10 records, the destination took the first)", w.Dropped())
	}
}
