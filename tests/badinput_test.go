package tests

import (
	"context"
	"fmt"
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

// TestNoMatchingPlatformStaysPending: images whose index has no entry for a node's
// architecture never run there, and the user is told why:
//   - a replicated service from an index lacking every node architecture stays pending,
//     "no suitable node (unsupported platform on N nodes)";
//   - a global service from an index lacking one node architecture runs everywhere else;
//     on that node (engine 20.10 assigns global tasks without the platform filter) the task
//     never runs and its error names the image it could not find for that platform;
//   - a placement constraint no node satisfies stays pending naming the constraint.
func TestNoMatchingPlatformStaysPending(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	ref, err := st.ParseImageRef(c.AppImage)
	if err != nil {
		t.Fatalf("cannot derive a registry from %s: %v", c.AppImage, err)
	}
	idx, mt, err := st.FetchIndex(context.Background(), ref)
	if err != nil {
		t.Fatalf("read the app index: %v", err)
	}
	push := func(t *testing.T, suffix string, sub st.Index) string {
		t.Helper()
		// The run ID makes the index (and its digest) unique to this run.
		sub.Annotations = map[string]string{"org.archway.test.run": c.RunID}
		tagged := ref
		tagged.Tag = "test-" + c.RunID + "-" + suffix
		if err := st.PushIndex(context.Background(), tagged, sub, mt); err != nil {
			t.Fatalf("push %s: %v", tagged, err)
		}
		t.Logf("pushed %s: %v", tagged, sub.Platforms())
		return tagged.String()
	}

	t.Run("replicated, index lacking every node architecture", func(t *testing.T) {
		foreign := idx.WithoutArches(c.Arches())
		if len(foreign.Manifests) == 0 {
			t.Skipf("the index %s (%v) has no platform absent from the cluster (%v)", c.AppImage, idx.Platforms(), c.Arches())
		}
		image := push(t, "foreign", foreign)
		svc := c.CreateService(t, st.WithName(c.Name("foreign")), st.WithImage(image), st.WithReplicas(1))
		reason := waitPending(t, c, svc.ID)
		if !strings.Contains(reason, "unsupported platform") {
			t.Errorf("pending reason %q does not say \"unsupported platform\"", reason)
		}
	})

	t.Run("global, index lacking one node architecture", func(t *testing.T) {
		// Drop arm64 if a node has it (the case users hit), else the first worker's arch.
		missing := ""
		for _, n := range c.NodeList() {
			if n.EngineArch == "arm64" || (missing == "" && !n.Manager) {
				missing = n.EngineArch
			}
		}
		if missing == "" {
			t.Skip("no worker node: every architecture is the manager's")
		}
		image := push(t, "no-"+missing, idx.WithoutArches([]string{missing}))
		svc := c.CreateService(t, st.WithName(c.Name("no-"+missing)), st.WithImage(image), st.WithGlobal())

		var reasons, runningOn []string
		st.WaitOn(t, "tasks running on every node but the "+missing+" ones, which report why not", func() st.Result {
			if err := c.Refresh(context.Background()); err != nil {
				return st.Continue("%v", err)
			}
			tasks, err := c.Tasks(context.Background(), svc.ID)
			if err != nil {
				return st.Continue("%v", err)
			}
			reasons, runningOn = nil, nil
			ok := 0
			for _, n := range c.NodeList() {
				good, why := false, ""
				for _, tk := range tasks {
					if tk.NodeID != n.ID {
						continue
					}
					if n.EngineArch != missing && tk.Status.State == swarm.TaskStateRunning {
						good = true
					}
					if n.EngineArch == missing {
						if tk.Status.State == swarm.TaskStateRunning {
							return st.Error(fmt.Errorf("a task runs on %s although the index has no %s entry", n, missing))
						}
						if tk.Status.Err != "" {
							good, why = true, string(tk.Status.State)+": "+tk.Status.Err
						}
					}
				}
				if good {
					ok++
				}
				if why != "" {
					reasons = append(reasons, n.Hostname+" "+why)
				} else if good {
					runningOn = append(runningOn, n.Hostname)
				}
			}
			if ok == len(c.NodeList()) {
				return st.Success()
			}
			return st.Continue("running on %v, reasons %v; tasks: %s", runningOn, reasons, c.TaskSummary(tasks))
		}, c.Timeout(2*time.Minute))
		t.Logf("running on %v", runningOn)
		for _, r := range reasons {
			t.Logf("not running: %s", r)
			if !strings.Contains(r, "unsupported platform") && !strings.Contains(r, "No such image") {
				t.Errorf("reason %q says neither \"unsupported platform\" nor \"No such image\"", r)
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
	st.Holds(t, "every task pending", func() st.Result {
		tasks, err := c.Tasks(context.Background(), id)
		if err != nil {
			return st.Error(err)
		}
		for _, tk := range tasks {
			if tk.Status.State != swarm.TaskStatePending {
				return st.Continue("task %s left pending: %s", tk.ID, c.TaskSummary(tasks))
			}
		}
		return st.Success()
	}, 3*time.Second)
	t.Logf("task pending: %s", reason)
	return reason
}
