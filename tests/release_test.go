package tests

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/platform"
	"github.com/archwayhq/archway/swarm/delivery"
	"github.com/archwayhq/archway/swarm/rollout"
	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// overrideHeader is the proxy's OVERRIDE_HEADER in these tests, as in the stack.
const overrideHeader = "X-Archway-Color"

// releaseLab is a group ready for releases: blue serving (weight 1), green idle, a proxy
// with the override header, and a steady load through it.
type releaseLab struct {
	c     *st.Cluster
	group string
	cols  map[string]colour
	p     st.Proxy
	load  *st.Load
}

func newReleaseLab(t *testing.T) releaseLab {
	t.Helper()
	c := st.Connect(t)
	group := c.Group(t)
	start := map[string]int{"blue": 1, "green": 0}
	l := releaseLab{c: c, group: group, cols: deployColours(t, c, group, start)}
	l.p = c.DeployProxy(t, group, st.WithEnv("OVERRIDE_HEADER="+overrideHeader))
	st.WaitOn(t, "proxy to serve blue only", l.p.HasBackends(upper(start), len(c.NodeList())), c.Timeout(30*time.Second))
	l.load = st.StartLoad(t.Context(), l.p.URL, 6, 2*time.Millisecond)
	t.Cleanup(func() { l.load.Stop() })
	return l
}

// testPlan is a short plan: three steps held a few seconds, minimums the lab's load
// reaches in that time on every architecture.
func testPlan(c *st.Cluster) delivery.Plan {
	p := delivery.DefaultPlan()
	p.Steps = []int{10, 50, 100}
	p.Hold, p.MaxWait = 6*time.Second, c.Timeout(time.Minute)
	p.MinRequests, p.MinPlatformRequests = 60, 10
	// Emulated nodes are slow and uneven: latency is judged loosely here; success is not.
	p.MaxP99, p.MaxP99Ratio, p.P99Slack = 5*time.Second, 10, 100*time.Millisecond
	return p
}

// releaser drives releases of the lab's group, logging to the test.
func (l releaseLab) releaser(t *testing.T, plan delivery.Plan) *delivery.Releaser {
	out := &testLog{t: t}
	s := &rollout.Session{
		API: l.c.Client, HTTP: &http.Client{Timeout: 10 * time.Second}, Group: l.group,
		ProxyURL: l.p.URL, AdminURL: l.p.Admin, AdminToken: l.p.Token, Out: out, Timeout: l.c.Timeout(2 * time.Minute),
	}
	return &delivery.Releaser{API: l.c.Client, Session: s, Plan: plan, OverrideHeader: overrideHeader, Out: out}
}

// state reads the group's release label.
func (l releaseLab) state(t *testing.T) delivery.State {
	t.Helper()
	cur, err := delivery.ReadCurrent(t.Context(), l.c.Client, l.group)
	if err != nil || cur.State == nil {
		t.Fatalf("release state of group %s: %v (state %v)", l.group, err, cur.State)
	}
	return *cur.State
}

// TestReleasePromotes: a good release steps 10 → 50 → 100 % under a steady load, every
// step passes on every architecture, it ends promoted — and no user request failed.
func TestReleasePromotes(t *testing.T) {
	t.Parallel()
	l := newReleaseLab(t)
	t0 := time.Now()
	if err := l.releaser(t, testPlan(l.c)).Release(t.Context(), delivery.Spec{Image: l.c.AppImage}); err != nil {
		t.Fatalf("release: %v", err)
	}
	s := l.state(t)
	if s.Phase != delivery.PhasePromoted || s.Canary != "green" || s.Step != 3 {
		t.Fatalf("release ended %s at step %d (canary %s), want promoted at 3 (green)", s.Phase, s.Step, s.Canary)
	}
	st.WaitOn(t, "proxy to serve green only", l.p.HasBackends(map[string]int{"BLUE": 0, "GREEN": 100}, len(l.c.NodeList())), l.c.Timeout(30*time.Second))
	total, dur := l.load.Stop()
	t.Logf("release promoted in %v; load %s over %v", time.Since(t0).Round(time.Second), total, dur.Round(time.Second))
	if total.Failed > 0 {
		t.Errorf("%d user requests failed during a good release: %v", total.Failed, total.Errors())
	}
}

// TestReleaseAbortsOnFailures: a release failing 30% of its requests everywhere is
// aborted at its first step; users saw at most about step weight × rate of the requests
// in the window, and the canary is at weight 0 at once.
func TestReleaseAbortsOnFailures(t *testing.T) {
	t.Parallel()
	l := newReleaseLab(t)
	before := l.load.Snapshot()
	err := l.releaser(t, testPlan(l.c)).Release(t.Context(), delivery.Spec{Image: l.c.AppImage, Env: map[string]string{"FAIL_RATE": "0.3"}})
	if !errors.Is(err, delivery.ErrAborted) || !strings.Contains(err.Error(), "success") || !strings.Contains(err.Error(), "at step 1 (10%)") {
		t.Fatalf("release of a 30%%-failing image: %v, want an abort on success rate at step 1 (10%%)", err)
	}
	s := l.state(t)
	if s.Phase != delivery.PhaseAborted {
		t.Fatalf("phase %s, want aborted", s.Phase)
	}
	st.WaitOn(t, "proxy to serve blue only", l.p.HasBackends(map[string]int{"BLUE": 100, "GREEN": 0}, len(l.c.NodeList())), l.c.Timeout(30*time.Second))
	// A little more load on blue alone: no request sent after the proxy served blue only
	// may fail (one sent to green just before may still end in green's fault).
	st.WaitOn(t, "requests sent before blue served alone to end", l.load.SentBefore(time.Now()), l.c.Timeout(30*time.Second))
	settle := l.load.Snapshot()
	st.WaitOn(t, "200 more requests on blue", func() st.Result {
		if d := l.load.Snapshot().Sub(settle); d.OK+d.Failed < 200 {
			return st.Continue("%d so far", d.OK+d.Failed)
		}
		return st.Success()
	}, l.c.Timeout(time.Minute))
	d := l.load.Snapshot().Sub(before)
	if after := l.load.Snapshot().Sub(settle); after.Failed > 0 {
		t.Errorf("%d requests failed after the proxy served blue only: %v", after.Failed, after.Errors())
	}
	// The bound: users reach the canary at the step's weight (10%) and 30% of those
	// fail, for as long as it takes the release to see it — a few reads of the proxy,
	// DefaultPoll apart, once the per-platform minimum's allowance is exceeded — and the
	// proxy to follow the weight change back (about half a second).
	total, dur := l.load.Stop()
	rate := float64(total.OK+total.Failed) / dur.Seconds()
	span := d.LastFail.Sub(d.FirstFail)
	expect := 0.1 * 0.3 * rate * span.Seconds()
	t.Logf("aborted: %s", s.Reason)
	t.Logf("users saw %d failed requests over %v (first %s, last %s); load %.0f req/s: 10%% × 30%% × %.0f req/s × %v = %.0f expected",
		d.Failed, span.Round(time.Millisecond), d.FirstFail.Format("15:04:05.000"), d.LastFail.Format("15:04:05.000"), rate, rate, span.Round(time.Millisecond), expect)
	if d.Failed == 0 {
		t.Error("no user request failed: the fault did not reach the canary")
	}
	if span > 3*time.Second {
		t.Errorf("users saw failures for %v: want the canary at weight 0 within 3s of the first", span)
	}
	if float64(d.Failed) > 2*expect+10 {
		t.Errorf("%d failed requests: more than twice the %.0f that 10%% × 30%% of the load over %v gives", d.Failed, expect, span)
	}
}

// TestReleaseCatchesOneArchitecture: 5% failures on one architecture only — the colour as
// a whole passes its 98% — is caught by the per-architecture check, with a reason that
// names the architecture.
func TestReleaseCatchesOneArchitecture(t *testing.T) {
	t.Parallel()
	l := newReleaseLab(t)
	bad := singleNodePlatform(t, l.c)
	plan := testPlan(l.c)
	plan.MinSuccess = 0.98
	err := l.releaser(t, plan).Release(t.Context(), delivery.Spec{Image: l.c.AppImage,
		Env: map[string]string{"FAIL_RATE": "0.05", "FAIL_PLATFORM": bad}})
	if !errors.Is(err, delivery.ErrAborted) || !strings.Contains(err.Error(), "green "+bad+" success") {
		t.Fatalf("release failing on %s only: %v, want an abort naming green %s", bad, err, bad)
	}
	s := l.state(t)
	for _, v := range s.Verdicts {
		t.Logf("verdict %s: %s (%d requests, success %.1f%%)", v.Scope, v.Result, v.Requests, v.Success*100)
		if v.Scope == "green" && v.Result == string(delivery.Fail) {
			t.Errorf("the colour-wide check failed too (%s): the test no longer shows the per-architecture check", v.Detail)
		}
	}
	t.Logf("aborted: %s", s.Reason)
}

// singleNodePlatform is a platform only one node runs, other than amd64 (the lab's
// manager): a fault there is a small share of the colour's requests.
func singleNodePlatform(t *testing.T, c *st.Cluster) string {
	t.Helper()
	count := map[string]int{}
	for _, n := range c.NodeList() {
		count[nodePlatform(t, c, n)]++
	}
	for _, p := range []string{"linux/arm/v7", "linux/arm64", "linux/386"} {
		if count[p] == 1 {
			return p
		}
	}
	t.Skipf("no platform other than amd64 runs on exactly one node (%v): the per-architecture test needs a mixed cluster", count)
	return ""
}

func nodePlatform(t *testing.T, c *st.Cluster, n st.Node) string {
	t.Helper()
	node, _, err := c.Client.NodeInspectWithRaw(t.Context(), n.ID)
	if err != nil {
		t.Fatalf("inspect node %s: %v", n.Hostname, err)
	}
	return platform.OfNode(node.Spec.Labels, node.Description.Platform.OS, node.Description.Platform.Architecture)
}

// TestReleaseSurvivesKill: `release` killed with SIGKILL mid-step leaves the cluster in a
// state `status` explains (owner gone); `release` again continues it to the promotion.
func TestReleaseSurvivesKill(t *testing.T) {
	t.Parallel()
	l := newReleaseLab(t)
	bin := buildRelease(t)
	args := append(l.commandArgs(t), "-image", l.c.AppImage, "-steps", "10,50,100", "-hold", "6s", "-max-wait", "2m", "-min-requests", "60",
		"-min-platform-requests", "10", "-max-p99", "5s", "-max-p99-ratio", "10", "-timeout", "4m")
	first := l.command(t, bin, append(args, "start")...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	st.WaitOn(t, "the release to reach step 1", func() st.Result {
		cur, err := delivery.ReadCurrent(t.Context(), l.c.Client, l.group)
		if err != nil || cur.State == nil || cur.State.Phase != delivery.PhaseStepping {
			return st.Continue("state %v (%v)", cur.State, err)
		}
		return st.Success()
	}, l.c.Timeout(3*time.Minute))
	// A second release while this one runs is refused before anything moves.
	second := l.command(t, bin, append(args, "start")...)
	out, err := second.CombinedOutput()
	t.Logf("a second release meanwhile:\n%s", out)
	if err == nil || !strings.Contains(string(out), "a release is running") {
		t.Fatalf("second release: %v; want it refused: a release is running", err)
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL: no abort, no last word
		t.Fatal(err)
	}
	_ = first.Wait()
	killedAt := time.Now()
	killed := l.state(t)
	t.Logf("killed at %s (%s)", killed.Phase, killed.Release)

	status := l.command(t, bin, append(args, "status")...)
	out, err = status.CombinedOutput()
	t.Logf("status after the kill:\n%s", out)
	if err != nil || !strings.Contains(string(out), "GONE") || !strings.Contains(string(out), killed.Release) {
		t.Fatalf("status: %v; want the release with its owner GONE", err)
	}
	// Nobody watches the canary now: once the heartbeat is stale the proxy stops sending
	// users to it, although its weight label still says 10.
	st.WaitOn(t, "the proxy to take the abandoned canary out", l.p.HasBackends(map[string]int{"BLUE": 90, "GREEN": 0}, len(l.c.NodeList())), l.c.Timeout(2*time.Minute))
	t.Logf("the proxy gave the abandoned canary weight 0 %v after the kill (labels: blue=90 green=10)", time.Since(killedAt).Round(100*time.Millisecond))
	again := l.command(t, bin, append(args, "start")...)
	out, err = again.CombinedOutput()
	t.Logf("release again:\n%s", out)
	if err != nil || !strings.Contains(string(out), "continuing it") {
		t.Fatalf("release again: %v; want it to continue %s", err, killed.Release)
	}
	s := l.state(t)
	if s.Release != killed.Release || s.Phase != delivery.PhasePromoted {
		t.Fatalf("after release again: %s %s, want %s promoted", s.Release, s.Phase, killed.Release)
	}
	total, _ := l.load.Stop()
	if total.Failed > 0 {
		t.Errorf("%d user requests failed across the kill and the continuation: %v", total.Failed, total.Errors())
	}
}

// commandArgs are the flags that point the release command at the lab's group and
// proxy, with the proxy's admin token in a file of the test's.
func (l releaseLab) commandArgs(t *testing.T) []string {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte(l.p.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-group", l.group, "-proxy-url", l.p.URL, "-admin-url", l.p.Admin, "-admin-token-file", tokenFile}
}

// command runs the release binary against the test's cluster.
func (l releaseLab) command(t *testing.T, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+l.c.DockerHost())
	return cmd
}

var (
	releaseBinOnce sync.Once
	releaseBin     string
	releaseBinErr  error
)

// buildRelease builds swarm/release once per test process.
func buildRelease(t *testing.T) string {
	t.Helper()
	releaseBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "archway-release-")
		if err != nil {
			releaseBinErr = err
			return
		}
		releaseBin = filepath.Join(dir, "release")
		out, err := exec.Command("go", "build", "-o", releaseBin, "github.com/archwayhq/archway/swarm/release").CombinedOutput()
		if err != nil {
			releaseBinErr = errors.New(string(out))
		}
	})
	if releaseBinErr != nil {
		t.Fatalf("build swarm/release: %v", releaseBinErr)
	}
	return releaseBin
}

// testLog writes whole lines to t.Log (a table arrives in pieces).
type testLog struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (w *testLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		w.t.Log(string(w.buf[:i]))
		w.buf = append(w.buf[:0], w.buf[i+1:]...)
	}
	return len(b), nil
}

// TestReleaseBadInput: an image the registry does not have, one that lacks a node's
// architecture, a plan that does not end at 100%, a threshold out of range — each is
// one line and a non-zero exit before any weight moves or any label is written.
func TestReleaseBadInput(t *testing.T) {
	t.Parallel()
	l := newReleaseLab(t)
	bin := buildRelease(t)
	// An index without the platform of one node (pushed under a test tag).
	ref, err := st.ParseImageRef(l.c.AppImage)
	if err != nil {
		t.Fatal(err)
	}
	idx, mt, err := st.FetchIndex(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	missing := singleNodePlatform(t, l.c)
	arch, _, _ := strings.Cut(strings.TrimPrefix(missing, "linux/"), "/") // WithoutArches drops by architecture
	partial := st.ImageRef{Registry: ref.Registry, Repo: ref.Repo, Tag: "no-" + arch + "-" + l.c.RunID}
	if err := st.PushIndex(t.Context(), partial, idx.WithoutArches([]string{arch}), mt); err != nil {
		t.Fatal(err)
	}
	common := append(l.commandArgs(t), "-verify-key", "")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no such image", []string{"-image", ref.Registry + "/archway/nope:" + l.c.RunID}, 1, "the registry does not serve it"},
		{"a node's architecture missing", []string{"-image", partial.String()}, 1, "no " + missing + " variant, which node"},
		{"plan not ending at 100", []string{"-image", l.c.AppImage, "-steps", "5,25,50"}, 2, "-steps=5,25,50: the plan ends at 50%: its last step must be 100"},
		{"plan not rising", []string{"-image", l.c.AppImage, "-steps", "50,25,100"}, 2, "step 2 (25%) does not rise above step 1 (50%)"},
		{"threshold out of range", []string{"-image", l.c.AppImage, "-min-success", "1.5"}, 2, "-min-success=1.5"},
		{"no image", nil, 2, "-image: missing"},
		{"env the release owns", []string{"-image", l.c.AppImage, "-env", "ARCHWAY_RELEASE=x"}, 2, "-env ARCHWAY_RELEASE: set by the release itself"},
	}
	for _, c := range cases {
		cmd := l.command(t, bin, append(append(append([]string{}, common...), c.args...), "start")...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		last := lines[len(lines)-1]
		t.Logf("%s: exit %d: %s", c.name, code, last)
		if code != c.code || !strings.Contains(last, c.want) {
			t.Errorf("%s: exit %d, last line %q; want exit %d and %q\n%s", c.name, code, last, c.code, c.want, out)
		}
	}
	st.WaitOn(t, "weights untouched", l.p.HasBackends(map[string]int{"BLUE": 1, "GREEN": 0}, len(l.c.NodeList())), l.c.Timeout(10*time.Second))
	if cur, err := delivery.ReadCurrent(t.Context(), l.c.Client, l.group); err != nil || cur.State != nil {
		t.Errorf("a refused release left a release label: %+v (%v)", cur.State, err)
	}
}
