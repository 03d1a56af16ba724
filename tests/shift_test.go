package tests

import (
	"context"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/swarm/rollout"
	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// loadWorkers is the concurrency of the background load. The split measured from the
// load's own tally can differ from a contiguous SWRR window only by requests in flight at
// the window's two edges: at most loadWorkers each, hence the tolerance below.
const loadWorkers = 4

// TestWeightShiftUnderLoad: canary → promote → rollback by label updates while a steady
// load runs through the proxy; no request fails, and after each step the split matches.
func TestWeightShiftUnderLoad(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	group := c.Group(t)
	start := map[string]int{"blue": 1, "green": 0}
	cols := deployColours(t, c, group, start)
	p := c.DeployProxy(t, group)
	st.WaitOn(t, "proxy to serve blue only", p.HasBackends(upper(start), len(c.NodeList())), c.Timeout(30*time.Second))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := st.StartLoad(ctx, p.URL, loadWorkers, 5*time.Millisecond)
	t.Cleanup(func() { load.Stop() })

	steps := []struct {
		name    string
		weights map[string]int
	}{
		{"canary", map[string]int{"blue": 4, "green": 1}},
		{"promote", map[string]int{"blue": 0, "green": 1}},
		{"rollback", map[string]int{"blue": 1, "green": 0}},
	}
	for _, step := range steps {
		t0 := time.Now()
		for name, w := range step.weights {
			setWeight(t, c, cols[name].service.ID, w)
		}
		took := st.WaitOn(t, step.name+": proxy to apply "+fmtWeights(step.weights), p.HasBackends(upper(step.weights), len(c.NodeList())), c.Timeout(30*time.Second))
		before := load.Snapshot()
		// Measure over at least 40 cycles of the load's own requests.
		cycle := rollout.Cycle(upper(step.weights))
		st.WaitOn(t, step.name+": enough requests under load", func() st.Result {
			if d := load.Snapshot().Sub(before); d.OK+d.Failed < 40*cycle {
				return st.Continue("%d requests so far", d.OK+d.Failed)
			}
			return st.Success()
		}, c.Timeout(time.Minute))
		d := load.Snapshot().Sub(before)
		t.Logf("%s: applied %v after the label update; under load %s (step %v)", step.name, took.Round(10*time.Millisecond), d, time.Since(t0).Round(10*time.Millisecond))
		if d.Failed > 0 {
			t.Errorf("%s: %d requests failed: %v", step.name, d.Failed, d.Errors())
		}
		if err := rollout.CheckSplit(d.ByColour, upper(step.weights), 2*loadWorkers); err != nil {
			t.Errorf("%s: %v", step.name, err)
		}
	}
	total, dur := load.Stop()
	t.Logf("load over the whole shift: %s in %v (%.0f req/s)", total, dur.Round(time.Millisecond), float64(total.OK+total.Failed)/dur.Seconds())
	if total.Failed > 0 {
		t.Errorf("%d requests failed across canary → promote → rollback: %v", total.Failed, total.Errors())
	}
}

func fmtWeights(w map[string]int) string {
	return st.Summary(func() []proxy.BackendView {
		var out []proxy.BackendView
		for k, v := range w {
			out = append(out, proxy.BackendView{Name: k, Weight: v})
		}
		return out
	}())
}
