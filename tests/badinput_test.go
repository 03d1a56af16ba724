package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// TestAdminRejectsBadWeights: an admin call with an invalid weight gets 400 naming the
// field, and leaves the backend set and the split exactly as they were.
func TestAdminRejectsBadWeights(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	group := c.Group(t)
	weights := map[string]int{"blue": 3, "green": 1}
	deployColours(t, c, group, weights)
	p := c.DeployProxy(t, group)
	st.WaitOn(t, "proxy to list both colours", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	sampleExact(t, c, p, weights, 5)

	for _, body := range []string{`{"weight": -1}`, `{"weight": "abc"}`, `{"weight": 1.5}`, `{"weight": 99999999}`, `{"wieght": 2}`, `not json`} {
		code, resp, err := p.Put(context.Background(), "green", body)
		if err != nil {
			t.Fatalf("PUT /backends/green %s: %v", body, err)
		}
		t.Logf("PUT /backends/green %-20s → %d %s", body, code, resp)
		if code != 400 {
			t.Errorf("PUT /backends/green %s: status %d, want 400 (%s)", body, code, resp)
		}
		if !strings.Contains(resp, "weight") && !strings.Contains(resp, "body") {
			t.Errorf("PUT /backends/green %s: error %q names neither the field nor the body", body, resp)
		}
	}
	if r := p.HasBackends(upper(weights), len(c.NodeList()))(); r != st.Success() {
		bs, _ := p.Backends(context.Background())
		t.Errorf("backend set changed by rejected calls: %s", st.Summary(bs))
	}
	sampleExact(t, c, p, weights, 5)

	// A valid call still works (so the 400s above were about the values).
	code, resp, err := p.Put(context.Background(), "green", `{"weight": 3}`)
	if err != nil || code != 200 {
		t.Fatalf("PUT /backends/green {\"weight\": 3}: %d %s %v, want 200", code, resp, err)
	}
	sampleExact(t, c, p, map[string]int{"blue": 3, "green": 3}, 5)
}

// TestNoMatchingPlatformStaysPending: an index lacking one node architecture leaves that
// node's task of a global service pending with a reason saying so (the other nodes run),
// and a placement no node satisfies leaves a replicated task pending naming the constraint.
func TestNoMatchingPlatformStaysPending(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)

	t.Run("index lacking a node architecture", func(t *testing.T) {
		ref, err := st.ParseImageRef(c.AppImage)
		if err != nil {
			t.Skipf("cannot derive a registry from %s: %v", c.AppImage, err)
		}
		idx, mt, err := st.FetchIndex(context.Background(), ref)
		if err != nil {
			t.Fatalf("read the app index: %v", err)
		}
		// Drop the architecture of an emulated node if any (the case users hit: an index
		// without arm64), else of the first worker.
		missing := ""
		for _, n := range c.NodeList() {
			if missing == "" && !n.Manager || n.Emulated && n.EngineArch == "arm64" {
				missing = n.EngineArch
			}
		}
		if missing == "" {
			t.Skip("no worker node: every architecture is the manager's")
		}
		lacking := idx.WithoutArches([]string{missing})
		// The run ID makes the index (and its digest) unique to this run.
		lacking.Annotations = map[string]string{"org.archway.test.run": c.RunID}
		tagged := ref
		tagged.Tag = "test-" + c.RunID + "-no-" + missing
		if err := st.PushIndex(context.Background(), tagged, lacking, mt); err != nil {
			t.Fatalf("push %s: %v", tagged, err)
		}
		t.Logf("pushed %s: %v (without %s)", tagged, lacking.Platforms(), missing)
		svc := c.CreateService(t, st.WithName(c.Name("no-"+missing)), st.WithImage(tagged.String()), st.WithGlobal())

		var pending, runningOn []string
		st.WaitOn(t, "tasks on "+missing+" nodes pending, the others running", func() st.Result {
			tasks, err := c.Tasks(context.Background(), svc.ID)
			if err != nil {
				return st.Continue("%v", err)
			}
			pending, runningOn = nil, nil
			ok := 0
			for _, n := range c.NodeList() {
				for _, tk := range tasks {
					if tk.NodeID != n.ID {
						continue
					}
					switch {
					case n.EngineArch == missing && tk.Status.State == swarm.TaskStatePending && tk.Status.Err != "":
						pending = append(pending, n.Hostname+": "+tk.Status.Err)
						ok++
					case n.EngineArch != missing && tk.Status.State == swarm.TaskStateRunning:
						runningOn = append(runningOn, n.Hostname)
						ok++
					}
				}
			}
			if ok == len(c.NodeList()) {
				return st.Success()
			}
			return st.Continue("pending %v, running on %v; tasks: %s", pending, runningOn, c.TaskSummary(tasks))
		}, c.Timeout(2*time.Minute))
		t.Logf("running on %v", runningOn)
		for _, p := range pending {
			t.Logf("pending %s", p)
			if !strings.Contains(p, "unsupported platform") {
				t.Errorf("pending reason %q does not say \"unsupported platform\"", p)
			}
		}
	})

	t.Run("placement constraint no node satisfies", func(t *testing.T) {
		svc := c.CreateService(t, st.WithName(c.Name("nowhere")), st.WithImage(c.AppImage), st.WithReplicas(1),
			st.WithConstraints("node.platform.arch==sparc64"))
		reason := waitPending(t, c, svc.ID)
		if !strings.Contains(reason, "constraint") {
			t.Errorf("pending reason %q does not name the constraint", reason)
		}
	})
}

// waitPending waits until the service's task is pending with a scheduler reason, checks it
// stays pending, and returns the reason.
func waitPending(t *testing.T, c *st.Cluster, id string) string {
	t.Helper()
	var reason string
	st.WaitOn(t, "a pending task with a reason", func() st.Result {
		tasks, err := c.Tasks(context.Background(), id)
		if err != nil {
			return st.Continue("%v", err)
		}
		for _, tk := range tasks {
			if tk.Status.State == swarm.TaskStatePending && tk.Status.Err != "" {
				reason = tk.Status.Err
				return st.Success()
			}
		}
		return st.Continue("tasks: %s", c.TaskSummary(tasks))
	}, c.Timeout(30*time.Second))
	time.Sleep(3 * time.Second)
	tasks, err := c.Tasks(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if tk.Status.State != swarm.TaskStatePending {
			t.Errorf("task %s left pending: %s %s", tk.ID, tk.Status.State, tk.Status.Err)
		}
	}
	t.Logf("task pending: %s", reason)
	return reason
}
