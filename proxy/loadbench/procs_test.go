package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stop must end the whole process group, including children that ignore SIGTERM,
// within the grace period plus SIGKILL.
func TestProcStopKillsGroup(t *testing.T) {
	dir := t.TempDir()
	p, err := startProc("sh", []string{"PATH=" + os.Getenv("PATH")}, filepath.Join(dir, "sh.log"),
		"sh", "-c", `trap "" TERM; sleep 60 & echo child $!; wait`)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.exited(); err != nil {
		t.Fatalf("exited early: %v", err)
	}
	start := time.Now()
	p.stop(300 * time.Millisecond)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stop took %v", el)
	}
	if p.exited() == nil {
		t.Error("still running after stop")
	}
	// The backgrounded sleep was in the same group: it must be gone too (SIGKILL is
	// delivered asynchronously, so allow a moment). A killed orphan stays a zombie where
	// nothing reaps it (a container without an init, as in the Dagger pipeline), and
	// kill(-pgid, 0) still finds zombies: count only members that can still run.
	deadline := time.Now().Add(3 * time.Second)
	for {
		live := liveGroupMembers(t, p.cmd.Process.Pid)
		if len(live) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group still has live members: %v", live)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveGroupMembers lists the pids of process group pgid that are not zombies, from
// /proc/<pid>/stat ("pid (comm) state ppid pgrp …"; comm may hold spaces and parens).
func liveGroupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited while we looked
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 3 || fields[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid {
			live = append(live, pid)
		}
	}
	return live
}

func TestProcExitedReportsLog(t *testing.T) {
	dir := t.TempDir()
	p, err := startProc("fails", []string{"PATH=" + os.Getenv("PATH")}, filepath.Join(dir, "f.log"), "sh", "-c", "echo bad config >&2; exit 2")
	if err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := p.exited(); err == nil || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("exited() = %v, want the log tail", err)
	}
	if err := waitHTTP(context.Background(), p, nil, "http://127.0.0.1:1/", time.Second); err == nil {
		t.Error("waitHTTP on an exited process succeeded")
	}
}

func TestWaitHTTP(t *testing.T) {
	ready := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready {
			ready = true
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	p, err := startProc("sleep", []string{"PATH=" + os.Getenv("PATH")}, filepath.Join(t.TempDir(), "s.log"), "sleep", "30")
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(time.Second)
	if err := waitHTTP(context.Background(), p, nil, srv.URL, 5*time.Second); err != nil {
		t.Errorf("waitHTTP: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := waitHTTP(context.Background(), p, nil, "http://127.0.0.1:"+strconv.Itoa(port)+"/", 300*time.Millisecond); err == nil {
		t.Error("waitHTTP on a closed port succeeded")
	}
}

func TestPinned(t *testing.T) {
	if got := pinned("", "wrk", "-t2"); !slices.Equal(got, []string{"wrk", "-t2"}) {
		t.Errorf("unpinned: %v", got)
	}
	if got := pinned("0-1", "wrk"); !slices.Equal(got, []string{"taskset", "-c", "0-1", "wrk"}) {
		t.Errorf("pinned: %v", got)
	}
}
