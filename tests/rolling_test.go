package tests

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// TestRollingUpdateUnderLoad: a start-first rolling update of the app (v1 → v2 by env, one
// node at a time) while a load runs through the proxy: no request fails. Each node picks
// its own host port, so old and new tasks overlap; the provider drops a task as soon as its
// desired state turns to shutdown, within the app's drain period.
func TestRollingUpdateUnderLoad(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	group := c.Group(t)
	weights := map[string]int{"blue": 1}
	cols := deployColours(t, c, group, weights, st.WithUpdateConfig(1, 2*time.Second, swarm.UpdateOrderStartFirst))
	p := c.DeployProxy(t, group)
	st.WaitOn(t, "proxy to serve blue", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	before := map[string]bool{}
	for _, tk := range c.RunningTasks(t, cols["blue"].service.ID) {
		before[tk.ID] = true
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := st.StartLoad(ctx, p.URL, loadWorkers, 5*time.Millisecond)
	t.Cleanup(func() { load.Stop() })
	st.WaitOn(t, "a steady baseline before the update", load.Steady(st.Counts{}, baselineAnswers), c.Timeout(time.Minute))

	t0 := time.Now()
	c.UpdateService(t, cols["blue"].service.ID, func(s *swarm.ServiceSpec) {
		s.TaskTemplate.ContainerSpec.Env = append(s.TaskTemplate.ContainerSpec.Env, "V2=1")
	})
	took := st.WaitOn(t, "rolling update to complete", c.UpdateCompleted(cols["blue"].service.ID), c.Timeout(5*time.Minute))
	st.WaitOn(t, "one running task per node after the update", c.RunningOnEveryNode(cols["blue"].service.ID), c.Timeout(time.Minute))
	for _, tk := range c.RunningTasks(t, cols["blue"].service.ID) {
		if before[tk.ID] {
			t.Errorf("task %s on node %s survived the update", tk.ID, tk.NodeID)
		}
	}
	st.WaitOn(t, "proxy to list only the new tasks", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	st.WaitOn(t, "a steady stretch on the new tasks", load.Steady(load.Snapshot(), baselineAnswers), c.Timeout(time.Minute))
	total, dur := load.Stop()
	t.Logf("rolling update of %d nodes took %v (from update call %v); load: %s in %v (%.0f req/s)",
		len(c.NodeList()), took.Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond),
		total, dur.Round(time.Millisecond), float64(total.OK+total.Failed)/dur.Seconds())
	if total.Failed > 0 {
		t.Errorf("%d of %d requests failed during the rolling update: %v", total.Failed, total.OK+total.Failed, total.Errors())
	}
	requireArches(t, c, total)
}
