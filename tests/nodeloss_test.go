package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// healthWindow bounds how long the lost node's member may stay in the proxy: Swarm marks a
// node down after missing heartbeats (~5–15 s), the provider reads that within its resync,
// and meanwhile the proxy's passive health check ejects the silent members.
const healthWindow = 30 * time.Second

// nodeLossAttemptTimeout is the proxy's ATTEMPT_TIMEOUT here (as in swarm/stack.yml): the
// demo app answers in milliseconds, and the load's client gives up after 5 s.
const nodeLossAttemptTimeout = "2s"

// baselineAnswers and steadyStretch are how many answers in a row make the load's
// baseline before a change and a steady stretch after one (the stretch: several
// seconds of the load's 4 workers on the lab).
const baselineAnswers, steadyStretch = 200, 2000

// TestNodeLoss: stopping one worker's engine ejects its tasks from the proxy within the
// health window, and no request fails at any point: a request the lost node holds is
// retried on another member once the attempt deadline passes. When the node returns,
// its members come back and its architecture answers again.
func TestNodeLoss(t *testing.T) {
	c := st.Connect(t)
	victim := c.StoppableNode(t) // skips off the lab unless a node is named
	group := c.Group(t)
	weights := map[string]int{"blue": 1}
	cols := deployColours(t, c, group, weights)
	p := c.DeployProxy(t, group, st.WithEnv("ATTEMPT_TIMEOUT="+nodeLossAttemptTimeout))
	st.WaitOn(t, "proxy to list a member per node", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	victimURL := ""
	for _, ep := range c.Endpoints(t, cols["blue"].service.ID, st.AppPort) {
		if ep.Node.ID == victim.Node.ID {
			victimURL = ep.URL
		}
	}
	if victimURL == "" {
		t.Fatalf("no app task on %s", victim.Node)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := st.StartLoad(ctx, p.URL, loadWorkers, 10*time.Millisecond)
	t.Cleanup(func() { load.Stop() })
	st.WaitOn(t, "a steady baseline before the stop", load.Steady(st.Counts{}, baselineAnswers), c.Timeout(time.Minute))

	t.Logf("stopping %s (%s), member %s", victim.Node, victim.How, victimURL)
	stopAt := time.Now()
	if err := victim.Stop(context.Background()); err != nil {
		t.Fatalf("stop %s: %v", victim.Node, err)
	}
	atStop := load.Snapshot()
	ejected := st.WaitOn(t, "proxy to drop the lost node's member "+victimURL, func() st.Result {
		bs, err := p.Backends(context.Background())
		if err != nil {
			return st.Continue("%v", err)
		}
		for _, b := range bs {
			for _, m := range b.Members {
				if strings.TrimRight(m, "/") == victimURL {
					return st.Continue("still a member: %s", st.Summary(bs))
				}
			}
		}
		return st.Success()
	}, healthWindow)
	inWindow := load.Snapshot().Sub(atStop)
	t.Logf("member dropped %v after the stop; during that window: %s", ejected.Round(100*time.Millisecond), inWindow)
	if inWindow.Failed > 0 {
		t.Errorf("%d requests failed while the lost node's member was still listed: %v", inWindow.Failed, inWindow.Errors())
	}

	// Once Swarm has the node down too (its tasks may be rescheduled elsewhere then): a
	// steady stretch with no failure.
	st.WaitOn(t, "Swarm to mark "+victim.Node.String()+" down", c.NodeDown(victim.Node), c.Timeout(time.Minute))
	after := load.Snapshot()
	st.WaitOn(t, "a steady stretch with "+victim.Node.String()+" down", load.Steady(after, steadyStretch), c.Timeout(time.Minute))
	d := load.Snapshot().Sub(after)
	t.Logf("Swarm marked the node down %v after the stop; the stretch after that: %s",
		time.Since(stopAt).Round(100*time.Millisecond), d)
	if d.ByArch[victim.Node.EngineArch] > 0 && countArch(c, victim.Node.EngineArch) == 1 {
		t.Errorf("%d answers from %s while its only node is down", d.ByArch[victim.Node.EngineArch], victim.Node.EngineArch)
	}

	// Recovery.
	resumeAt := time.Now()
	if err := victim.Resume(context.Background()); err != nil {
		t.Fatalf("resume %s: %v", victim.Node, err)
	}
	back := st.WaitOn(t, "proxy to list a member per node again", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(2*time.Minute))
	before := load.Snapshot()
	st.WaitOn(t, "answers from "+victim.Node.EngineArch+" again", func() st.Result {
		if load.Snapshot().Sub(before).ByArch[victim.Node.EngineArch] > 0 {
			return st.Success()
		}
		return st.Continue("none yet: %s", load.Snapshot().Sub(before))
	}, c.Timeout(time.Minute))
	total, dur := load.Stop()
	if total.Failed > 0 {
		t.Errorf("%d requests failed over the whole run: %v", total.Failed, total.Errors())
	}
	t.Logf("node back in the proxy %v after resume, its arch answering %v after resume; whole run: %s in %v",
		back.Round(100*time.Millisecond), time.Since(resumeAt).Round(100*time.Millisecond), total, dur.Round(time.Millisecond))
}

func countArch(c *st.Cluster, arch string) int {
	n := 0
	for _, node := range c.NodeList() {
		if node.EngineArch == arch {
			n++
		}
	}
	return n
}
