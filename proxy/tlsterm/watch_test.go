package tlsterm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchPicksUpReplacedFiles: Watch reloads a pair replaced by WriteFiles, then a
// pair that was missing for a while, and returns when its context ends.
func TestWatchPicksUpReplacedFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	a, b, c := issue(t, ca, "a.test"), issue(t, ca, "b.test"), issue(t, ca, "c.test")
	certFile, keyFile := writePair(t, dir, a)
	s, err := NewStore(certFile, keyFile, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, 20*time.Millisecond)
	}()

	writePair(t, dir, b)
	waitFor(t, "the store to serve leaf B after WriteFiles", func() bool { return servedSerial(s) == b.serial })

	mustRemove(t, certFile)
	mustRemove(t, keyFile)
	waitFor(t, "Info to report the missing certificate", func() bool {
		return s.Info().LastError != ""
	})
	if got := servedSerial(s); got != b.serial {
		t.Fatalf("serving %s with the files gone, want %s", got, b.serial)
	}
	writePair(t, dir, c)
	waitFor(t, "the store to serve leaf C once the files are back", func() bool { return servedSerial(s) == c.serial })
	if info := s.Info(); info.Reloads != 2 || info.LastError != "" {
		t.Fatalf("Info: reloads %d, last error %q; want 2, none", info.Reloads, info.LastError)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return within 5s of its context ending")
	}
}

// TestWatchDisabled: a non-positive interval returns at once.
func TestWatchDisabled(t *testing.T) {
	dir := t.TempDir()
	a := issue(t, newTestCA(t), "a.test")
	certFile, keyFile := writePair(t, dir, a)
	s, err := NewStore(certFile, keyFile, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(context.Background(), 0)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch(ctx, 0) did not return")
	}
}

// TestPollRetriesQuietly: what Watch does each interval. A change to a half-replaced
// pair fails and is retried on every poll, logged once; the key arriving completes it.
// A poll with nothing changed and nothing failed reads nothing.
func TestPollRetriesQuietly(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	a, b := issue(t, ca, "a.test"), issue(t, ca, "b.test")
	certFile, keyFile := writePair(t, dir, a)
	var logs logRecorder
	s, err := NewStore(certFile, keyFile, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	loadedAt := s.Info().LoadedAt
	for range 3 {
		s.poll()
	}
	if info := s.Info(); info.Reloads != 0 || !info.LoadedAt.Equal(loadedAt) {
		t.Fatalf("polls without a change reloaded: %+v", info)
	}

	writeFile(t, dir, "tls.crt", b.cert)
	for range 5 {
		s.poll()
	}
	if got := servedSerial(s); got != a.serial {
		t.Fatalf("serving %s with a half-replaced pair, want the old %s", got, a.serial)
	}
	if n := len(logs.matching("level=WARN", "key does not match")); n != 1 {
		t.Fatalf("%d warnings over 5 failing polls, want 1; logs:\n%s", n, &logs)
	}
	if !strings.Contains(s.Info().LastError, "key does not match") {
		t.Fatalf("LastError %q", s.Info().LastError)
	}

	// A different failure is news: logged.
	mustRemove(t, keyFile)
	s.poll()
	s.poll()
	if n := len(logs.matching("level=WARN", "no such file")); n != 1 {
		t.Fatalf("%d warnings for the missing key, want 1; logs:\n%s", n, &logs)
	}

	writeFile(t, dir, "tls.key", b.key)
	s.poll()
	if got := servedSerial(s); got != b.serial {
		t.Fatalf("serving %s once the pair is whole, want %s", got, b.serial)
	}
	if info := s.Info(); info.Reloads != 1 || info.LastError != "" {
		t.Fatalf("Info: reloads %d, last error %q", info.Reloads, info.LastError)
	}
}

// TestPollSeesInPlaceRewrite: a writer that truncates and rewrites the files in place
// (cp, echo >) keeps the inode; modification time and size still change.
func TestPollSeesInPlaceRewrite(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	a, b := issue(t, ca, "a.test"), issue(t, ca, "b.test")
	certFile, keyFile := writePair(t, dir, a)
	s, err := NewStore(certFile, keyFile, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	before := stampOf(certFile)
	if err := os.WriteFile(keyFile, b.key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, b.cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if after := stampOf(certFile); after.ino != before.ino {
		t.Fatalf("os.WriteFile changed the inode (%d -> %d); the test needs an in-place write", before.ino, after.ino)
	}
	s.poll()
	if got := servedSerial(s); got != b.serial {
		t.Fatalf("serving %s after an in-place rewrite, want %s", got, b.serial)
	}
}

// TestWatchFollowsSymlinkSwap: a Kubernetes secret volume: tls.crt -> ..data/tls.crt,
// ..data -> ..<timestamp>, and an update swaps ..data to a new directory in one rename.
func TestWatchFollowsSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	a, b := issue(t, ca, "a.test"), issue(t, ca, "b.test")
	version := func(name string, l leaf) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writePair(t, filepath.Join(dir, name), l)
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_a", a)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Skipf("no symlinks here: %v", err)
		}
	}
	s, err := NewStore(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(s); got != a.serial {
		t.Fatalf("serving %s, want %s", got, a.serial)
	}
	ctx := t.Context()
	go s.Watch(ctx, 20*time.Millisecond)
	version("..2026_01_02_b", b)
	waitFor(t, "the store to serve leaf B after the ..data swap", func() bool { return servedSerial(s) == b.serial })
	if info := s.Info(); info.Reloads != 1 || info.LastError != "" {
		t.Fatalf("Info: reloads %d, last error %q", info.Reloads, info.LastError)
	}
}
