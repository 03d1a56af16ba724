package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/cli"
	"github.com/archwayhq/archway/internal/testutil"
)

// relayDir is a directory with a path short enough for unix sockets (at most 107 bytes;
// t.TempDir() embeds the test name).
func relayDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "relay")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// pingEngine is the least of a Docker engine a relay starts on: /_ping answers OK, every
// other path 418 so that a leak through the relay would show.
func pingEngine(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(relayDir(t), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.41")
			_, _ = io.WriteString(w, "OK")
			return
		}
		w.WriteHeader(http.StatusTeapot)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func unixGet(sock, path string) (int, error) {
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://docker" + path)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitRelay polls sock until /_ping answers 200 through it.
func waitRelay(t *testing.T, sock string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, err := unixGet(sock, "/_ping"); err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay at %s does not answer /_ping", sock)
		}
	}
}

func TestRelayBadSettingsExit2(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"-socket-mode", "abc"}, nil, `-socket-mode="abc": want an octal mode like 0660`},
		{[]string{"-socket-mode=0"}, nil, `-socket-mode="0": want an octal mode like 0660`},
		{[]string{"-socket-mode=1777"}, nil, `-socket-mode="1777": want an octal mode like 0660`},
		{nil, []string{"RELAY_SOCKET_MODE=0999"}, `RELAY_SOCKET_MODE="0999": want an octal mode like 0660`},
		{[]string{"-socket-uid", "nobody"}, nil, `-socket-uid="nobody": want a numeric user id, or -1 to leave it`},
		{nil, []string{"RELAY_SOCKET_GID=-2"}, `RELAY_SOCKET_GID="-2": want a numeric group id, or -1 to leave it`},
		{[]string{"-upstream", "tcp://10.0.0.1:2375"}, nil, `-upstream="tcp://10.0.0.1:2375": want an absolute unix socket path like /var/run/docker.sock`},
		{nil, []string{"RELAY_LISTEN=relay.sock"}, `RELAY_LISTEN="relay.sock": want an absolute unix socket path like /var/run/docker.sock`},
		{[]string{"-listen="}, nil, `-listen="": want an absolute unix socket path like /var/run/docker.sock`},
		{[]string{"-socket-owner=1"}, nil, `flag provided but not defined: -socket-owner`},
		{[]string{"serve"}, nil, `unexpected argument "serve"; settings are flags or env vars`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := runRelay(context.Background(), c.args, c.env, &stdout, &stderr)
		want := "archway-proxy relay: " + c.want + "\n"
		if code != 2 || stderr.String() != want || stdout.Len() != 0 {
			t.Errorf("runRelay(%q, %q) = %d, stderr %q; want 2, %q", c.args, c.env, code, stderr.String(), want)
		}
	}
}

// A relay setting or DOCKER_HOST pasted by mistake (100 KB) is refused in one line of
// bounded length that still names it.
func TestRelayHugeValueOneShortLine(t *testing.T) {
	huge := "/" + strings.Repeat("x", 100_000)
	for name, runIt := range map[string]func(stdout, stderr io.Writer) int{
		"relay": func(stdout, stderr io.Writer) int {
			return runRelay(context.Background(), nil, []string{"RELAY_LISTEN=" + huge[1:]}, stdout, stderr)
		},
		"relay-check": func(stdout, stderr io.Writer) int {
			return runRelayCheck(context.Background(), []string{"DOCKER_HOST=bogus" + huge}, stdout, stderr)
		},
	} {
		var stdout, stderr bytes.Buffer
		code := runIt(&stdout, &stderr)
		line := stderr.String()
		prefix := map[string]string{"relay": `archway-proxy relay: RELAY_LISTEN="xxx`, "relay-check": `archway-proxy relay-check: DOCKER_HOST="bogus/xxx`}[name]
		if code != 2 || len(line) > cli.MaxErrorLine+1 || !strings.HasPrefix(line, prefix) || strings.Count(line, "\n") != 1 {
			t.Errorf("%s: code %d, %d bytes: %.80q…", name, code, len(line), line)
		}
	}
}

// TestRelayFlagWinsOverEnv: a bad variable does not matter when its flag is given; the
// relay then fails at run time (no engine), exit 1, in one line naming the upstream.
func TestRelayFlagWinsOverEnv(t *testing.T) {
	dir := relayDir(t)
	missing := filepath.Join(dir, "no-engine.sock")
	var stdout, stderr bytes.Buffer
	code := runRelay(context.Background(),
		[]string{"-socket-mode", "0600", "-upstream", missing, "-listen", filepath.Join(dir, "r.sock")},
		[]string{"RELAY_SOCKET_MODE=abc", "RELAY_UPSTREAM=/elsewhere.sock"}, &stdout, &stderr)
	want := `archway-proxy relay: socketrelay: upstream "` + missing + `": the engine does not answer: `
	if code != 1 || !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("runRelay = %d, stderr %q; want 1 and one line starting %q", code, stderr.String(), want)
	}
}

func TestRelayHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runRelay(context.Background(), []string{"-h"}, nil, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("-h: %d, stderr %q", code, stderr.String())
	}
	for _, s := range []string{"-socket-mode", "RELAY_SOCKET_MODE", "GET /services", "(default 65532)", "DOCKER_HOST=unix://"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("usage lacks %q:\n%s", s, stdout.String())
		}
	}
}

// TestRelayServes runs the subcommand until its context ends: the socket works, filters,
// and is gone after a clean exit 0.
func TestRelayServes(t *testing.T) {
	engine := pingEngine(t)
	listen := filepath.Join(relayDir(t), "relay.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runRelay(ctx, []string{"-upstream", "unix://" + engine, "-socket-uid", "-1"},
			[]string{"RELAY_LISTEN=" + listen, "RELAY_SOCKET_GID=-1"}, io.Discard, &stderr)
	}()
	waitRelay(t, listen)
	if code, err := unixGet(listen, "/v1.41/containers/json"); err != nil || code != http.StatusForbidden {
		t.Errorf("GET /v1.41/containers/json: %d %v; want 403", code, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after the context ended; want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runRelay did not return after the context ended")
	}
	if _, err := os.Lstat(listen); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after exit: %v; want removed", err)
	}
	log := stderr.String()
	if !strings.Contains(log, "socket relay listening") || strings.Count(log, "refused") != 1 ||
		!strings.Contains(log, "path=/v1.41/containers/json") {
		t.Errorf("log:\n%s\nwant the start line and one refusal of /v1.41/containers/json", log)
	}
}

// TestRelaySIGTERM runs `archway-proxy relay` in a process of its own (this test binary
// as archway-proxy, see TestMain) and stops it with SIGTERM: exit 0, socket removed.
func TestRelaySIGTERM(t *testing.T) {
	engine := pingEngine(t)
	listen := filepath.Join(relayDir(t), "relay.sock")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "ARCHWAY_PROXY_AS_MAIN=1", "ARCHWAY_PROXY_ARGS=relay", "RELAY_UPSTREAM="+engine, "RELAY_LISTEN="+listen,
		"RELAY_SOCKET_UID=-1", "RELAY_SOCKET_GID=-1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitRelay(t, listen)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v; stderr:\n%s", err, stderr.String())
	}
	if _, err := os.Lstat(listen); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after SIGTERM: %v; want removed", err)
	}
}
