package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

// The test binary doubles as archway-app when this variable is set, so the tests see
// real exit codes and real signals without a separate go build.
const beMain = "ARCHWAY_APP_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func command(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), beMain+"=1")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func TestBadInputExit2(t *testing.T) {
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"PORT=http"}, nil, `archway-app: PORT="http": want a port number 1-65535`},
		{[]string{"PORT=99999"}, nil, `archway-app: PORT="99999": want a port number 1-65535`},
		{nil, []string{"-port", "abc"}, `archway-app: -port="abc": want a port number 1-65535`},
		{[]string{"V2=maybe"}, nil, `archway-app: V2="maybe": want 1/true or 0/false (empty means false)`},
		{[]string{"DRAIN=soon"}, nil, `archway-app: DRAIN="soon": want a duration ≥ 0 such as 3s or 500ms`},
		{nil, []string{"-drain", "-2s"}, `archway-app: -drain="-2s": want a duration ≥ 0 such as 3s or 500ms`},
		{nil, []string{"-nope"}, `archway-app: flag provided but not defined: -nope`},
		{[]string{"FAIL_RATE=1.5"}, nil, `archway-app: FAIL_RATE="1.5": want a number from 0 to 1`},
		{[]string{"FAIL_RATE=1", "FAIL_STATUS=404"}, nil, `archway-app: FAIL_STATUS="404": want an HTTP status from 500 to 599`},
		{[]string{"FAIL_PLATFORM=linux/arm/v7"}, nil, `archway-app: FAIL_PLATFORM="linux/arm/v7": needs FAIL_RATE (it limits where FAIL_RATE applies)`},
		{[]string{"FAIL_RATE=1", "FAIL_PLATFORM=armv7l"}, nil, `archway-app: FAIL_PLATFORM="armv7l": want os/arch[/variant] such as linux/arm/v7`},
		{[]string{"DELAY=90s"}, nil, `archway-app: DELAY="90s": want a duration from 0 to 1m0s such as 200ms`},
		{[]string{"DELAY_PLATFORM=linux/386"}, nil, `archway-app: DELAY_PLATFORM="linux/386": needs DELAY (it limits where DELAY applies)`},
		{[]string{"ARCHWAY_RELEASE=r1\nr2"}, nil, `archway-app: ARCHWAY_RELEASE="r1\nr2": want at most 64 printable characters`},
	}
	for _, c := range cases {
		var stderr strings.Builder
		cmd := command(t, c.env, c.args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 2 {
			t.Errorf("%v %v: exit %d (%v), want 2", c.env, c.args, code, err)
		}
		if got := stderr.String(); got != c.want+"\n" {
			t.Errorf("%v %v: stderr %q, want one line %q", c.env, c.args, got, c.want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, err := command(t, nil, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "archway-app dev") {
		t.Errorf("-version: %q %v", out, err)
	}
	if err := command(t, nil, "-h").Run(); err != nil {
		t.Errorf("-h: %v", err)
	}
}

// TestSIGTERMDrains runs the real binary: it serves the seed's text line, and on
// SIGTERM fails /readyz while still answering /, then exits 0.
func TestSIGTERMDrains(t *testing.T) {
	port := testutil.FreePort(t)
	cmd := command(t, []string{fmt.Sprintf("PORT=%d", port)}, "-drain", "600ms")
	// A plain Writer (not StderrPipe): Wait returns only after everything is copied.
	var logs testutil.SyncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	get := func(path string, hdr ...string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get("/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	host, _ := os.Hostname()
	if code, body := get("/", "Color", "blue"); code != 200 || !strings.HasPrefix(body, "blue "+host+" linux/") {
		t.Errorf("GET /: %d %q", code, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(300 * time.Millisecond)
	for {
		code, _ := get("/readyz")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz = %d after SIGTERM", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := get("/"); code != 200 {
		t.Errorf("GET / during drain: %d", code)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	if out := logs.String(); !strings.Contains(out, "draining") || !strings.Contains(out, "stopped") {
		t.Errorf("lifecycle not logged:\n%s", out)
	}
}
