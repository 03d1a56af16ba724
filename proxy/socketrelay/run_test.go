package socketrelay

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// staleSocket leaves a socket file at path with nobody listening, as a killed relay does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

// waitServing polls the relay at sock until it answers /_ping.
func waitServing(t *testing.T, sock string, done <-chan error) {
	t.Helper()
	c := unixClient(sock)
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		if resp, err := c.Get("http://docker/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay does not answer /_ping after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunReplacesStaleSocket runs the whole relay: a stale socket at Listen is replaced,
// the new one has the asked owner and mode, an open event stream does not hold the stop,
// and the socket is gone once Run returns.
func TestRunReplacesStaleSocket(t *testing.T) {
	engine := newFakeEngine(t, cannedBodies)
	listen := filepath.Join(shortDir(t), "relay.sock")
	staleSocket(t, listen)
	cfg := Config{Upstream: engine.sock, Listen: listen, SocketUID: -1, SocketGID: -1, Mode: 0o640, Logger: slogDiscard()}
	root := os.Geteuid() == 0
	if root {
		cfg.SocketUID, cfg.SocketGID = 65532, 65533
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	waitServing(t, listen, done)

	fi, err := os.Lstat(listen)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o640 {
		t.Errorf("socket mode %v; want a socket with 0640", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); root && (st.Uid != 65532 || st.Gid != 65533) {
		t.Errorf("socket owner %d:%d; want 65532:65533", st.Uid, st.Gid)
	}
	resp, err := unixClient(listen).Get("http://docker/containers/json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /containers/json through Run: %d; want 403", resp.StatusCode)
	}

	events, err := unixClient(listen).Get("http://docker/events")
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v; want nil", err)
		}
	case <-time.After(shutdownGrace - time.Second):
		t.Fatal("Run did not return after cancel: the event stream holds it")
	}
	if _, err := os.Lstat(listen); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after Run: %v; want it removed", err)
	}
	// The stream ended with the relay rather than hanging on.
	_, _ = io.Copy(io.Discard, events.Body)
}

// TestRunLeavesOtherFiles: a regular file or a live socket at Listen is not removed, and
// the error names the path.
func TestRunLeavesOtherFiles(t *testing.T) {
	engine := newFakeEngine(t, nil)
	dir := shortDir(t)

	file := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Config{Upstream: engine.sock, Listen: file, SocketUID: -1, SocketGID: -1, Logger: slogDiscard()})
	if err == nil || !strings.Contains(err.Error(), `listen "`+file+`"`) || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Run on a regular file: %v; want an error naming %s and saying it is not a socket", err, file)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("regular file now %q", b)
	}

	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	err = Run(context.Background(), Config{Upstream: engine.sock, Listen: live, SocketUID: -1, SocketGID: -1, Logger: slogDiscard()})
	if err == nil || !strings.Contains(err.Error(), `listen "`+live+`"`) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Run on a live socket: %v; want an error naming %s and saying it is in use", err, live)
	}
	if c, err := net.Dial("unix", live); err != nil {
		t.Errorf("the live socket no longer answers: %v", err)
	} else {
		c.Close()
	}
}

// TestRunStartErrors: settings that cannot work fail at once, naming the setting and value.
func TestRunStartErrors(t *testing.T) {
	engine := newFakeEngine(t, nil)
	dir := shortDir(t)
	listen := filepath.Join(dir, "relay.sock")
	missing := filepath.Join(dir, "no-engine.sock")
	long := "/" + strings.Repeat("x", 120)
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Upstream: missing, Listen: listen}, `socketrelay: upstream "` + missing + `": the engine does not answer: `},
		{Config{Upstream: engine.sock, Listen: long}, `socketrelay: listen "` + long + `": a socket path is at most 107 bytes`},
		{Config{Upstream: engine.sock, Listen: listen, Mode: 0o4660}, `socketrelay: mode 04660: want permission bits only`},
		{Config{Upstream: engine.sock, Listen: listen, SocketUID: -2}, `socketrelay: socket owner -2:0: want ids >= 0`},
		{Config{Upstream: engine.sock, Listen: filepath.Join(dir, "no-dir", "relay.sock"), SocketUID: -1, SocketGID: -1}, `socketrelay: listen "` + filepath.Join(dir, "no-dir", "relay.sock") + `": `},
	}
	for _, c := range cases {
		c.cfg.Logger = slogDiscard()
		err := Run(context.Background(), c.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Run(%+v): %v; want one line starting %q", c.cfg, err, c.want)
		}
	}
	if _, err := os.Lstat(listen); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed start left %s: %v", listen, err)
	}
}
