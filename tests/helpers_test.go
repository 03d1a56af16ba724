package tests

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/swarm/rollout"
	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// appDrain is the app's drain period in these tests: how long a stopping task keeps
// serving after SIGTERM. It must exceed the provider's resync (2s) plus the proxy's apply,
// so that a replaced task leaves the proxy before it stops listening.
const appDrain = "8s"

// colour is one deployed colour of the app.
type colour struct {
	name    string // lower-case, as in the label
	service swarm.Service
}

// deployColours deploys one global app service per colour (blue = v1, any other = v2 with
// V2=1), labelled for group with the given weights, and waits for a running task on
// every node.
func deployColours(t *testing.T, c *st.Cluster, group string, weights map[string]int, extra ...st.ServiceSpecOpt) map[string]colour {
	t.Helper()
	out := map[string]colour{}
	for name, w := range weights {
		opts := []st.ServiceSpecOpt{st.WithEnv("DRAIN=" + appDrain)}
		if name != "blue" {
			opts = append(opts, st.WithEnv("V2=1"))
		}
		opts = append(opts, extra...)
		svc := c.CreateService(t, c.AppOpts(group, name, w, opts...)...)
		out[name] = colour{name: name, service: svc}
	}
	for name, col := range out {
		took := st.WaitOn(t, "app "+name+" running on every node", c.RunningOnEveryNode(col.service.ID), c.Timeout(2*time.Minute))
		t.Logf("app %s: a running task on each of %d nodes after %v", name, len(c.NodeList()), took.Round(100*time.Millisecond))
	}
	return out
}

// upper maps colour weights to the proxy's names (BLUE, GREEN).
func upper(w map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range w {
		out[strings.ToUpper(k)] = v
	}
	return out
}

// setWeight changes a colour's weight label (docker service update --label-add): no task
// restarts, the provider picks it up from the service event.
// Not rollout.SetWeights: tests address one service by ID and go through UpdateService's checked update.
func setWeight(t *testing.T, c *st.Cluster, id string, weight int) {
	t.Helper()
	c.UpdateService(t, id, func(s *swarm.ServiceSpec) {
		s.Labels[st.LabelWeight] = strconv.Itoa(weight)
	})
}

// sampleExact sends whole SWRR cycles through the proxy (nobody else sending) and checks
// the colour split is exactly the weights, no request failed, and every architecture of
// the cluster answered. It returns the tally.
func sampleExact(t *testing.T, c *st.Cluster, p st.Proxy, weights map[string]int, cycles int) st.Counts {
	t.Helper()
	w := upper(weights)
	n := rollout.Cycle(w) * cycles
	start := time.Now()
	got := st.Sample(context.Background(), p.URL, n)
	t.Logf("split over %d requests (%d cycles of %d) in %v: %s", n, cycles, rollout.Cycle(w), time.Since(start).Round(time.Millisecond), got)
	if got.Failed > 0 {
		t.Fatalf("%d of %d requests failed: %v", got.Failed, n, got.Errors())
	}
	if err := rollout.CheckSplit(got.ByColour, w, 0); err != nil {
		t.Errorf("%v", err)
	}
	return got
}

// requireArches checks every architecture of the cluster answered.
func requireArches(t *testing.T, c *st.Cluster, got st.Counts) {
	t.Helper()
	for _, a := range c.Arches() {
		if got.ByArch[a] == 0 {
			t.Errorf("architecture %s never answered (answers by arch: %v; nodes %v)", a, got.ByArch, c.NodeList())
		}
	}
	for a := range got.ByArch {
		found := false
		for _, b := range c.Arches() {
			found = found || a == b
		}
		if !found {
			t.Errorf("an answer came from architecture %s, which no node's engine reports (%v)", a, c.Arches())
		}
	}
}
