package tests

import (
	"context"
	"testing"
	"time"

	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// TestGlobalServiceMatchesEachNodeEngine: a global service from the app index runs one task
// per node, and each task answers with the architecture of its node's engine — the engine
// picked the index entry, so a wrong entry (or a missing one) shows here.
func TestGlobalServiceMatchesEachNodeEngine(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	for _, n := range c.NodeList() {
		note := ""
		if n.ArchFromDescription {
			note = " (engine API unreachable: arch from node description, wrong for i386 on 64-bit kernels)"
		}
		t.Logf("node %-24s platform=%-8s engine=%-6s emulated=%v%s", n.Hostname, n.Platform, n.EngineArch, n.Emulated, note)
	}
	start := time.Now()
	svc := c.CreateService(t,
		st.WithName(c.Name("global")),
		st.WithImage(c.AppImage),
		st.WithGlobal(),
		st.WithHostPort(st.AppPort, 0),
	)
	if p := svc.Spec.TaskTemplate.Placement; p == nil || len(p.Platforms) == 0 {
		t.Errorf("service has no placement platforms: QueryRegistry did not resolve %s as an index", c.AppImage)
	} else {
		t.Logf("image %s resolved to %d platforms", svc.Spec.TaskTemplate.ContainerSpec.Image, len(p.Platforms))
	}
	took := st.WaitOn(t, "one running task per node", c.RunningOnEveryNode(svc.ID), c.Timeout(2*time.Minute))
	t.Logf("all %d tasks running %v after create", len(c.NodeList()), took.Round(100*time.Millisecond))

	for _, ep := range c.Endpoints(t, svc.ID, st.AppPort) {
		var info st.Info
		st.WaitOn(t, "app on "+ep.Node.String()+" answering at "+ep.URL, func() st.Result {
			in, _, err := st.GetInfo(context.Background(), ep.URL, nil)
			if err != nil {
				return st.Continue("%v", err)
			}
			info = in
			return st.Success()
		}, c.Timeout(30*time.Second))
		t.Logf("node %-24s engine=%-6s → goarch=%s variant=%v machine=%s hostname=%s", ep.Node.Hostname, ep.Node.EngineArch, info.GOARCH, info.Raw["variant"], info.Machine, info.Hostname)
		if info.GOARCH != ep.Node.EngineArch {
			t.Errorf("task on %s answered goarch=%s, want its engine's %s", ep.Node.Hostname, info.GOARCH, ep.Node.EngineArch)
		}
	}
	t.Logf("total %v", time.Since(start).Round(100*time.Millisecond))
}
