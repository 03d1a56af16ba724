package swarmtest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/app"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/swarm/lab/lab"
)

func TestWaitOn(t *testing.T) {
	n := 0
	took, err := waitOn("three tries", func() Result {
		n++
		if n < 3 {
			return Continue("try %d", n)
		}
		return Success()
	}, time.Second, time.Millisecond)
	if err != nil || n != 3 || took > time.Second {
		t.Fatalf("success after 3: err=%v n=%d took=%v", err, n, took)
	}

	_, err = waitOn("the impossible", func() Result { return Continue("task failed: no such image") }, 30*time.Millisecond, 5*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "waiting for the impossible") || !strings.Contains(err.Error(), "last state: task failed: no such image") {
		t.Fatalf("timeout error %q must say what was awaited and the last state", err)
	}

	calls := 0
	_, err = waitOn("a lost cluster", func() Result {
		calls++
		if calls < 3 {
			return Continue("arm64 task pending: unsupported platform")
		}
		return Continue("dial tcp: i/o timeout")
	}, 50*time.Millisecond, 5*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "last state: dial tcp: i/o timeout; before that: arm64 task pending: unsupported platform") {
		t.Fatalf("timeout error %q must keep the state before the last change", err)
	}

	boom := errors.New("boom")
	_, err = waitOn("x", func() Result { return Error(boom) }, time.Second, time.Millisecond)
	if !errors.Is(err, boom) {
		t.Fatalf("Error result: %v", err)
	}
}

func TestHolds(t *testing.T) {
	n := 0
	if err := holds("a steady state", func() Result { n++; return Success() }, 20*time.Millisecond, time.Millisecond); err != nil || n < 2 {
		t.Fatalf("a check that holds: err=%v after %d polls", err, n)
	}
	n = 0
	err := holds("pending", func() Result {
		n++
		if n < 3 {
			return Success()
		}
		return Continue("task running on lab-arm64")
	}, time.Second, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "pending stopped holding after") || !strings.Contains(err.Error(), "task running on lab-arm64") || n != 3 {
		t.Fatalf("a check that stops holding at poll 3: err=%v after %d polls", err, n)
	}
}

func TestServiceSpecOptions(t *testing.T) {
	spec := ServiceSpec(
		WithName("n"), WithImage("img"), WithEnv("A=1"), WithEnv("B=2"), WithArgs("-x"),
		WithLabels(map[string]string{"k": "v"}), WithGlobal(), WithHostPort(8080, 0),
		WithConstraints("node.role==manager"), WithDockerSocket(), WithStopGracePeriod(time.Second),
		WithUpdateConfig(1, time.Second, swarm.UpdateOrderStartFirst),
	)
	cs := spec.TaskTemplate.ContainerSpec
	switch {
	case spec.Name != "n" || cs.Image != "img" || strings.Join(cs.Env, ",") != "A=1,B=2" || cs.Args[0] != "-x":
		t.Errorf("container spec: %+v", cs)
	case spec.Labels["k"] != "v":
		t.Errorf("labels: %v", spec.Labels)
	case spec.Mode.Global == nil || spec.Mode.Replicated != nil:
		t.Errorf("mode: %+v", spec.Mode)
	case len(spec.EndpointSpec.Ports) != 1 || spec.EndpointSpec.Ports[0].PublishMode != swarm.PortConfigPublishModeHost || spec.EndpointSpec.Ports[0].TargetPort != 8080:
		t.Errorf("ports: %+v", spec.EndpointSpec.Ports)
	case spec.TaskTemplate.Placement.Constraints[0] != "node.role==manager":
		t.Errorf("constraints: %+v", spec.TaskTemplate.Placement)
	case len(cs.Mounts) != 1 || !cs.Mounts[0].ReadOnly:
		t.Errorf("mounts: %+v", cs.Mounts)
	case spec.UpdateConfig.Order != swarm.UpdateOrderStartFirst:
		t.Errorf("update: %+v", spec.UpdateConfig)
	}
	if r := ServiceSpec(WithReplicas(3)); *r.Mode.Replicated.Replicas != 3 {
		t.Errorf("replicas: %+v", r.Mode)
	}
}

// TestLabState checks the lab state the suite reads through swarm/lab/lab: where it is
// looked for, and that a missing file means "skip", not "fail".
func TestLabState(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/h"}, "/h/.cache/archway/lab/state.json"},
		{map[string]string{"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/x/archway/lab/state.json"},
		{map[string]string{"HOME": "/h", "XDG_CACHE_HOME": "/x", "ARCHWAY_HOME": "/a"}, "/a/lab/state.json"},
	} {
		for _, k := range []string{"HOME", "XDG_CACHE_HOME", "ARCHWAY_HOME"} {
			t.Setenv(k, tt.env[k])
		}
		home, err := lab.Home()
		if got := lab.StatePath(home); err != nil || got != tt.want {
			t.Errorf("lab.StatePath(lab.Home()) with %v = %s %v, want %s", tt.env, got, err, tt.want)
		}
	}

	dir := t.TempDir()
	path := lab.StatePath(dir)
	if _, err := lab.LoadState(dir); !errors.Is(err, lab.ErrNoLab) {
		t.Fatalf("missing file: %v, want ErrNoLab (skip, not fail)", err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(`{"docker_host":"tcp://172.18.0.2:2375","registry":"127.0.0.1:5000","nodes":[{"name":"archway-lab-arm64","arch":"arm64","container":"archway-lab-arm64","addr":"172.18.0.4"}]}`), 0o644)
	st, err := lab.LoadState(dir)
	if err != nil || st.DockerHost != "tcp://172.18.0.2:2375" || len(st.Nodes) != 1 || st.Nodes[0].Addr != "172.18.0.4" {
		t.Fatalf("lab.LoadState: %+v %v", st, err)
	}
	os.WriteFile(path, []byte(`{"nodes":[]}`), 0o644)
	if _, err := lab.LoadState(dir); err == nil {
		t.Fatal("state without docker_host accepted")
	}
}

func TestArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "s390x": "s390x"} {
		if got := NormalizeArch(in); got != want {
			t.Errorf("NormalizeArch(%s) = %s, want %s", in, got, want)
		}
	}
	if !nativeTo("amd64", "386") || nativeTo("amd64", "arm64") || !nativeTo("arm64", "arm") {
		t.Error("nativeTo")
	}
	c := &Cluster{scale: 1, nodes: []Node{{EngineArch: "amd64"}}}
	if c.Timeout(time.Minute) != time.Minute {
		t.Errorf("native timeout %v", c.Timeout(time.Minute))
	}
	c.nodes = append(c.nodes, Node{EngineArch: "arm64", Emulated: true})
	c.scale = 1.5
	if got := c.Timeout(time.Minute); got != 6*time.Minute {
		t.Errorf("emulated timeout %v, want 6m (×4 emulation ×1.5 scale)", got)
	}
	if got := strings.Join(c.Arches(), ","); got != "amd64,arm64" {
		t.Errorf("Arches = %s", got)
	}
}

func TestDiffBackends(t *testing.T) {
	bs := []proxy.BackendView{{Name: "BLUE", Weight: 4, Members: []string{"a", "b"}}, {Name: "GREEN", Weight: 1, Members: []string{"c", "d"}}}
	if d := diffBackends(bs, map[string]int{"BLUE": 4, "GREEN": 1}, 2); d != "" {
		t.Errorf("equal sets differ: %s", d)
	}
	for want, weights := range map[string]map[string]int{
		"GREEN weight 1, want 2": {"BLUE": 4, "GREEN": 2},
		"unexpected colour":      {"BLUE": 4},
		"missing colour RED":     {"BLUE": 4, "GREEN": 1, "RED": 1},
	} {
		if d := diffBackends(bs, weights, 2); !strings.Contains(d, want) {
			t.Errorf("diff %q, want %q", d, want)
		}
	}
	if d := diffBackends(bs, map[string]int{"BLUE": 4, "GREEN": 1}, 3); !strings.Contains(d, "2 members, want 3") {
		t.Errorf("member count: %q", d)
	}
	if s := Summary(bs); s != "BLUE=4×2 GREEN=1×2" {
		t.Errorf("Summary = %s", s)
	}
}

func TestImageIndex(t *testing.T) {
	ref, err := ParseImageRef("127.0.0.1:5000/archway/app:1.2")
	if err != nil || ref != (ImageRef{"127.0.0.1:5000", "archway/app", "1.2"}) {
		t.Fatalf("ParseImageRef: %+v %v", ref, err)
	}
	if r, _ := ParseImageRef("reg.example:5000/app"); r.Tag != "latest" {
		t.Errorf("default tag: %+v", r)
	}
	for _, bad := range []string{"archway/app:1", "app", "127.0.0.1:5000/app@sha256:00"} {
		if _, err := ParseImageRef(bad); err == nil {
			t.Errorf("ParseImageRef(%q) accepted", bad)
		}
	}
	idx := Index{SchemaVersion: 2, Manifests: []IndexEntry{
		{Digest: "a", Platform: &Platform{OS: "linux", Architecture: "amd64"}},
		{Digest: "b", Platform: &Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{Digest: "c", Platform: &Platform{OS: "linux", Architecture: "s390x"}},
		{Digest: "d", Platform: &Platform{OS: "unknown", Architecture: "unknown"}},
	}}
	got := idx.WithoutArches([]string{"amd64", "arm"})
	if p := strings.Join(got.Platforms(), ","); p != "linux/s390x" {
		t.Errorf("WithoutArches = %s", p)
	}
	if len(idx.Manifests) != 4 {
		t.Error("WithoutArches modified its receiver")
	}
}

func TestCountsAndInfo(t *testing.T) {
	in, _, err := ParseInfo([]byte(`{"hostname":"h","goarch":"arm","variant":"v7","color":"green","machine":"armv7l"}`), nil)
	if err != nil || in.GOARCH != "arm" || in.Color != "GREEN" || in.Raw["variant"] != "v7" {
		t.Fatalf("ParseInfo: %+v %v", in, err)
	}
	if _, _, err := ParseInfo([]byte(`<html>`), nil); err == nil {
		t.Error("HTML accepted as info")
	}
	if _, _, err := ParseInfo([]byte(`{"color":"blue"}`), nil); err == nil {
		t.Error("info without goarch accepted")
	}
	c := newCounts()
	now := time.Now()
	c.add(in, nil, now)
	before := c.Sub(newCounts())
	c.add(Info{Info: app.Info{GOARCH: "amd64", Color: "BLUE"}}, nil, now)
	c.add(Info{}, errors.New("connection refused"), now)
	d := c.Sub(before)
	if d.OK != 1 || d.Failed != 1 || d.ByColour["BLUE"] != 1 || d.ByColour["GREEN"] != 0 || len(d.Errors()) != 1 {
		t.Errorf("Sub: %s %v", d, d.Errors())
	}
	if s := c.String(); s != "ok=2 failed=1 colours={BLUE:1 GREEN:1} arches={amd64:1 arm:1}" {
		t.Errorf("String = %s", s)
	}
}

// TestCountsKeepFailures: a long run keeps its first and its latest failures, and a
// window taken late in it shows its own.
func TestCountsKeepFailures(t *testing.T) {
	c := newCounts()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	fail := func(i int) { c.add(Info{}, fmt.Errorf("fail %d", i), at) }
	for i := 1; i <= 20; i++ {
		fail(i)
	}
	errs := c.Errors()
	want := []string{"fail 1", "fail 2", "fail 3", "fail 4", "fail 5", "(10 more)", "fail 16", "fail 17", "fail 18", "fail 19", "fail 20"}
	if len(errs) != len(want) {
		t.Fatalf("Errors() = %q, want %q", errs, want)
	}
	for i, w := range want {
		if !strings.HasSuffix(errs[i], w) {
			t.Errorf("Errors()[%d] = %q, want %q", i, errs[i], w)
		}
	}
	before := c.Sub(newCounts())
	for i := 21; i <= 23; i++ {
		fail(i)
	}
	d := c.Sub(before)
	if got := d.Errors(); d.Failed != 3 || len(got) != 3 || !strings.HasSuffix(got[0], "fail 21") || !strings.HasSuffix(got[2], "fail 23") {
		t.Errorf("window of failures 21–23: failed=%d errors=%q", d.Failed, got)
	}
	if got := before.Errors(); !strings.HasSuffix(got[len(got)-1], "fail 20") {
		t.Errorf("a snapshot changed after it was taken: %q", got)
	}
}

// TestLoadSteady: the check waits for its stretch of answers, and a failure in the
// stretch ends the wait at once.
func TestLoadSteady(t *testing.T) {
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			http.Error(w, "node lost", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"goarch":"amd64","color":"blue"}`))
	}))
	defer srv.Close()
	load := StartLoad(t.Context(), srv.URL, 2, time.Millisecond)
	defer load.Stop()
	check := load.Steady(load.Snapshot(), 20)
	if r := check(); r.done && load.Snapshot().OK < 20 {
		t.Fatalf("succeeded before 20 answers: %v", load.Snapshot())
	}
	WaitOn(t, "20 answers", check, 10*time.Second)
	broken.Store(true)
	since := load.Snapshot()
	WaitOn(t, "a failure", func() Result {
		if load.Snapshot().Sub(since).Failed > 0 {
			return Success()
		}
		return Continue("none yet")
	}, 10*time.Second)
	r := load.Steady(since, 1_000_000)()
	if r.err == nil || !strings.Contains(r.err.Error(), "node lost") {
		t.Fatalf("with a failure in the stretch: %+v, want an error naming it", r)
	}
}

func TestTaskSummary(t *testing.T) {
	c := &Cluster{nodes: []Node{{ID: "n1", Hostname: "lab-arm64", EngineArch: "arm64"}}}
	now := time.Now()
	tasks := []swarm.Task{
		{NodeID: "n1", Status: swarm.TaskStatus{State: swarm.TaskStateRunning, Timestamp: now}},
		{NodeID: "n1", Status: swarm.TaskStatus{State: swarm.TaskStateRejected, Err: "old error", Timestamp: now.Add(-time.Minute)}},
		{NodeID: "n1", Status: swarm.TaskStatus{State: swarm.TaskStateRejected, Err: "no such image", Timestamp: now}},
		{Status: swarm.TaskStatus{State: swarm.TaskStatePending, Err: "no suitable node (unsupported platform on 5 nodes)", Timestamp: now.Add(time.Second)}},
	}
	got := c.TaskSummary(tasks)
	want := "pending=1 rejected=2 running=1; last task error (unassigned, pending): no suitable node (unsupported platform on 5 nodes)"
	if got != want {
		t.Errorf("TaskSummary:\n got %s\nwant %s", got, want)
	}
	if got := c.TaskSummary(tasks[:3]); !strings.HasSuffix(got, "(lab-arm64(arm64), rejected): no such image") {
		t.Errorf("TaskSummary: %s", got)
	}
}

// TestLoadSentBefore: the check waits for a request sent before its time, and once it
// succeeds that request is tallied.
func TestLoadSentBefore(t *testing.T) {
	inFlight, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() {
			close(inFlight)
			<-release
		})
		http.Error(w, "broken canary", http.StatusInternalServerError)
	}))
	defer srv.Close()
	load := StartLoad(t.Context(), srv.URL, 1, 10*time.Millisecond)
	defer load.Stop()
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock() // first, so that a failed test does not leave the handler waiting
	<-inFlight

	check := load.SentBefore(time.Now())
	if r := check(); r.done || !strings.Contains(r.status, "1 requests sent before") {
		t.Fatalf("with a request still in flight: %+v, want to keep waiting on it", r)
	}
	unblock()
	WaitOn(t, "the held request to end", check, 10*time.Second)
	if c := load.Snapshot(); c.Failed < 1 {
		t.Fatalf("after the check succeeded: %v, want the held request's failure tallied", c)
	}
}
