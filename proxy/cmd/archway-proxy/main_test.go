package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/cli"
	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy"
)

// The test binary doubles as archway-proxy when ARCHWAY_PROXY_AS_MAIN=1, so that
// exit codes and signals are tested on the real process.
func TestMain(m *testing.M) {
	if os.Getenv("ARCHWAY_PROXY_AS_MAIN") == "1" {
		os.Args = append([]string{"archway-proxy"}, strings.Fields(os.Getenv("ARCHWAY_PROXY_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

func TestRunBadConfigExit2(t *testing.T) {
	notPEM := t.TempDir() + "/not.pem"
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	swarmFile := t.TempDir() + "/archway.env"
	if err := os.WriteFile(swarmFile, []byte("PROVIDER=swarm\nARCHWAY_SWARM_RESYNC=abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		// The Swarm provider's settings name themselves, from the environment or the file.
		{nil, []string{"PROVIDER=swarm", "ARCHWAY_SWARM_RESYNC=0"}, "archway-proxy: PROVIDER=\"swarm\": ARCHWAY_SWARM_RESYNC=\"0\": want a duration of at least 100ms such as 2s\n"},
		{nil, []string{"PROVIDER=swarm", "ARCHWAY_SWARM_GROUP="}, "archway-proxy: PROVIDER=\"swarm\": ARCHWAY_SWARM_GROUP=\"\": want a group name of letters, digits, '.', '-', '_' (unset: every labelled service)\n"},
		{[]string{"-config", swarmFile}, nil, "archway-proxy: PROVIDER=\"swarm\": ARCHWAY_SWARM_RESYNC=\"abc\": want a duration of at least 100ms such as 2s\n"},
		{nil, []string{"BLUE=http://b:1", "GREEN=http://g:2", "GREEN_WEIGHT=-1"}, "archway-proxy: GREEN_WEIGHT=\"-1\": weight must be an integer >= 0\n"},
		{[]string{"-port", "0"}, []string{"BLUE=http://b:1"}, "archway-proxy: -port=\"0\": want a port number 1-65535\n"},
		{nil, []string{"BLUE=http://b:1", "PROVIDER=consul"}, "archway-proxy: PROVIDER=\"consul\": unknown provider; want one of " + providerNames() + "\n"},
		{nil, []string{"BLUE=http://b:1", "ENGINE=h2"}, "archway-proxy: ENGINE=\"h2\": want nethttp or epoll\n"},
		{nil, []string{"BLUE=http://b:1", "BLUE_WEIGHT=0"}, "archway-proxy: backends: every weight is 0 (BLUE=0); at least one must be > 0\n"},
		// The admin API on every address without a token does not start.
		{[]string{"-admin-addr", ":8990"}, []string{"BLUE=http://b:1"}, "archway-proxy: -admin-addr=\":8990\": an admin API on a non-loopback address needs a token: set ADMIN_TOKEN_FILE (a Docker secret) or ADMIN_TOKEN, or listen on 127.0.0.1\n"},
		{[]string{"-admin-addr", ":8990"}, []string{"BLUE=http://b:1", "ADMIN_TOKEN_FILE=/run/secrets/missing"}, "archway-proxy: ADMIN_TOKEN_FILE=\"/run/secrets/missing\": no such file or directory\n"},
		// TLS files are loaded before anything listens.
		{[]string{"-tls-cert-file", "/nonexistent/c.pem", "-tls-key-file", "/nonexistent/k.pem"}, []string{"BLUE=http://b:1"}, "archway-proxy: -tls-cert-file=\"/nonexistent/c.pem\": no such file or directory\n"},
		{nil, []string{"BLUE=http://b:1", "TLS_CERT_FILE=" + notPEM, "TLS_KEY_FILE=" + notPEM}, "archway-proxy: TLS_CERT_FILE=\"" + notPEM + "\": no PEM certificate in file\n"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, c.env, &stdout, &stderr)
		if code != 2 || stderr.String() != c.want || stdout.Len() != 0 {
			t.Errorf("run(%q, %q) = %d, stderr %q; want 2, %q", c.args, c.env, code, stderr.String(), c.want)
		}
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-version"}, nil, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "archway-proxy dev (commit unknown)") {
		t.Errorf("-version: %d %q %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"-h"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-sticky-cookie") {
		t.Errorf("-h: %d %q", code, stdout.String())
	}
}

// TestSIGTERMDrain runs the real process under load, sends SIGTERM and checks that
// /readyz fails, in-flight requests finish, no request fails and the exit code is 0;
// SIGHUP with an unchanged config reloads in between.
func TestSIGTERMDrain(t *testing.T) {
	engines := []string{proxy.EngineNetHTTP}
	if runtime.GOOS == "linux" {
		engines = append(engines, proxy.EngineEpoll)
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					time.Sleep(700 * time.Millisecond)
				}
				fmt.Fprintf(w, "%s %s\n", r.Header.Get("Color"), r.URL.Path)
			}))
			defer backend.Close()
			m := startMain(t, "-drain 2s -log-format json",
				"ENGINE="+engine, "BLUE="+backend.URL, "BLUE_WEIGHT=4", "GREEN="+backend.URL+"/", "GREEN_WEIGHT=1")
			cmd, base, client := m.cmd, m.base, &http.Client{Timeout: 5 * time.Second}
			resp, err := client.Get(base + "/x?y=1")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "blue /x\n" || resp.Header.Get("X-Proxy") == "" {
				t.Fatalf("first request: %q X-Proxy %q", body, resp.Header.Get("X-Proxy"))
			}
			_ = cmd.Process.Signal(syscall.SIGHUP)

			var tally testutil.Tally
			var wg sync.WaitGroup
			stop := make(chan struct{})
			tally.Load(&wg, stop, 4, client, base+"/fast")
			for range 4 {
				wg.Go(func() { tally.Get(client, base+"/slow") })
			}
			time.Sleep(100 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// Like a load balancer: keep sending until /readyz fails, then a little longer.
			sawNotReady := false
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				resp, err := client.Get(base + "/readyz")
				if err != nil {
					t.Fatalf("/readyz during drain: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode == 503 {
					sawNotReady = true
					break
				}
			}
			if !sawNotReady {
				t.Error("/readyz never failed after SIGTERM")
			}
			time.Sleep(100 * time.Millisecond)
			close(stop)
			wg.Wait()
			<-m.done
			err = m.err
			logs := &m.logs
			if err != nil {
				t.Fatalf("exit: %v\n%s", err, logs.String())
			}
			if tally.Failed.Load() != 0 || tally.OK.Load() < 5 {
				t.Fatalf("ok=%d failed=%d (first: %s)\n%s", tally.OK.Load(), tally.Failed.Load(), tally.FirstErr(), logs.String())
			}
			for _, want := range []string{`"msg":"configuration reloaded"`, `"msg":"draining"`, `"msg":"stopped","server":"proxy"`} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs lack %s:\n%s", want, logs.String())
				}
			}
		})
	}
}

// mainProc is archway-proxy run as a process by the test binary (TestMain).
type mainProc struct {
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:<port>
	admin string // the admin API's base URL
	logs  testutil.SyncBuffer
	out   testutil.SyncBuffer // stdout: the access log
	done  chan struct{}       // closed when the process exited; err is then cmd.Wait's result
	err   error
}

// startMain starts archway-proxy with args (besides -port and -admin-addr) and env and
// waits until /readyz answers 200. Ports come from testutil.FreePort, and another test
// binary running in parallel may take one before the proxy binds it: a start that
// fails with "address already in use" is retried on fresh ports.
func startMain(t *testing.T, args string, env ...string) *mainProc {
	t.Helper()
	return startMainWith(t, "http", &http.Client{Timeout: 2 * time.Second}, args, env...)
}

// startMainWith is startMain for a proxy listener of scheme (http or https), probed
// with client.
func startMainWith(t *testing.T, scheme string, client *http.Client, args string, env ...string) *mainProc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port, admin := testutil.FreePort(t), testutil.FreePort(t)
		m := &mainProc{cmd: exec.Command(os.Args[0]), base: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port),
			admin: fmt.Sprintf("http://127.0.0.1:%d", admin), done: make(chan struct{})}
		m.cmd.Env = append(append(os.Environ(), "ARCHWAY_PROXY_AS_MAIN=1",
			"ARCHWAY_PROXY_ARGS=-port "+fmt.Sprint(port)+" -admin-addr 127.0.0.1:"+fmt.Sprint(admin)+" "+args), env...)
		m.cmd.Stderr, m.cmd.Stdout = &m.logs, &m.out
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { m.err = m.cmd.Wait(); close(m.done) }()
		deadline := time.Now().Add(15 * time.Second)
		for {
			select {
			case <-m.done:
				if attempt < 3 && strings.Contains(m.logs.String(), "address already in use") {
					t.Logf("attempt %d: a port was taken before the proxy bound it; retrying", attempt)
				} else {
					t.Fatalf("proxy exited before it was ready: %v\n%s", m.err, m.logs.String())
				}
			default:
				resp, err := client.Get(m.base + "/readyz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						t.Cleanup(func() {
							select {
							case <-m.done:
							default:
								_ = m.cmd.Process.Kill()
								<-m.done
							}
						})
						return m
					}
				}
				if time.Now().After(deadline) {
					_ = m.cmd.Process.Kill()
					t.Fatalf("proxy not ready after 15s: %v\n%s", err, m.logs.String())
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			break
		}
	}
}

// TestSIGHUPReload edits the -config file and sends SIGHUP: a good file is applied
// (backends, the access log's switch; settings only a restart applies are named in a
// warning), a bad one is logged in one line and the running configuration stays.
func TestSIGHUPReload(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, r.Header.Get("Color"))
	}))
	defer backend.Close()
	file := t.TempDir() + "/archway.env"
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("BLUE=" + backend.URL + "\n")
	m := startMain(t, "-drain 0s -config "+file)
	cmd, logs := m.cmd, &m.logs
	client := &http.Client{Timeout: 2 * time.Second}
	backends := func() string {
		resp, err := client.Get(m.admin + "/backends")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var v []struct {
			Name   string
			Weight int
		}
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return fmt.Sprint(v)
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; backends %s\n%s", what, backends(), logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitUntil("start", func() bool { return backends() == "[{BLUE 1}]" })

	// Settings only a restart applies are named in a warning, not silently kept.
	// The access log's switch applies.
	write("BLUE=" + backend.URL + "\nGREEN=" + backend.URL + "\nGREEN_WEIGHT=3\nMAX_FAILS=5\nLOG_LEVEL=debug\nACCESS_LOG=true\n")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitUntil("reload", func() bool { return backends() == "[{BLUE 1} {GREEN 3}]" })
	waitUntil("restart-only warning", func() bool {
		return strings.Contains(logs.String(), `level=WARN msg="settings changed that apply only at a restart; they keep their start values" settings="MAX_FAILS \"3\" -> \"5\""`)
	})
	if m.out.String() != "" {
		t.Fatalf("access lines before any request: %q", m.out.String())
	}
	resp, err := client.Get(m.base + "/after-hup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitUntil("the request's access line", func() bool { return strings.Contains(m.out.String(), "target=/after-hup") })

	write("BLUE=" + backend.URL + "\nGREEN=" + backend.URL + "\nGREEN_WEIGHT=-1\n")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitUntil("refused reload logged", func() bool {
		return strings.Contains(logs.String(), `msg="reload failed; keeping the running configuration" err="GREEN_WEIGHT=\"-1\": weight must be an integer >= 0"`)
	})
	if got := backends(); got != "[{BLUE 1} {GREEN 3}]" {
		t.Fatalf("after a bad reload backends = %s", got)
	}
}

// A setting pasted by mistake (100 KB) is refused in one line of bounded length that
// still names it, not echoed whole.
func TestRunHugeValueOneShortLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, []string{"HEALTH_INTERVAL=" + strings.Repeat("9", 100_000), "BLUE=http://b:1"}, &stdout, &stderr)
	line := stderr.String()
	if code != 2 || len(line) > cli.MaxErrorLine+1 || !strings.HasPrefix(line, `archway-proxy: HEALTH_INTERVAL="999`) || strings.Count(line, "\n") != 1 {
		t.Fatalf("code %d, %d bytes: %.80q…", code, len(line), line)
	}
}

// TestStartLineNamesTheBoundAdminAddress: with ADMIN_ADDR's port 0 the kernel picks
// one; the start line names it (not ":0"), and the admin API answers there.
func TestStartLineNamesTheBoundAdminAddress(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	m := startMain(t, "-log-format json -admin-addr 127.0.0.1:0", "BLUE="+backend.URL)
	var start struct{ Admin string }
	for line := range strings.SplitSeq(m.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"archway-proxy starting"`) {
			if err := json.Unmarshal([]byte(line), &start); err != nil {
				t.Fatalf("start line %q: %v", line, err)
			}
		}
	}
	host, port, err := net.SplitHostPort(start.Admin)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("start line's admin %q: want 127.0.0.1 and the port the kernel chose\n%s", start.Admin, m.logs.String())
	}
	resp, err := http.Get("http://" + start.Admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin API at %s: %d, want 200", start.Admin, resp.StatusCode)
	}
}
