package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// TestLockedEdge: the proxy deployed as the stack deploys it (non-root, admin token from
// a secret, the Swarm read through the filtering relay) —
//   - every admin route refuses a request without the token or with a wrong one (401,
//     nothing changed) and works with it;
//   - from inside the proxy's container, creating a service, listing containers and
//     reading a container's logs through its Docker endpoint are refused (403), while the
//     reads the provider needs work;
//   - the provider still follows a label change through the relay.
func TestLockedEdge(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	group := c.Group(t)
	weights := map[string]int{"blue": 1, "green": 1}
	cols := deployColours(t, c, group, weights)
	p := c.DeployProxy(t, group)
	st.WaitOn(t, "proxy to list both colours", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	ctx := context.Background()

	routes := []struct{ method, path, body string }{
		{"GET", "/status", ""}, {"GET", "/backends", ""}, {"GET", "/backends/blue", ""}, {"GET", "/metrics", ""},
		{"PUT", "/backends/green", `{"weight": 5}`}, {"DELETE", "/backends/green", ""},
	}
	for _, r := range routes {
		for _, tok := range []struct{ name, token string }{{"no token", ""}, {"a wrong token", p.Token + "0"}} {
			code, body, err := p.AdminDo(ctx, r.method, r.path, r.body, tok.token)
			if err != nil {
				t.Fatalf("%s %s with %s: %v", r.method, r.path, tok.name, err)
			}
			t.Logf("%-6s %-16s with %-13s → %d %s", r.method, r.path, tok.name, code, firstLineOf(body))
			if code != 401 {
				t.Errorf("%s %s with %s: %d, want 401", r.method, r.path, tok.name, code)
			}
		}
	}
	if r := p.HasBackends(upper(weights), len(c.NodeList()))(); r != st.Success() {
		t.Fatalf("refused admin calls changed the backends")
	}
	for _, r := range routes[:4] {
		if code, body, err := p.AdminDo(ctx, r.method, r.path, "", p.Token); err != nil || code != 200 {
			t.Errorf("%s %s with the token: %d %s %v, want 200", r.method, r.path, code, firstLineOf(body), err)
		}
	}
	sampleExact(t, c, p, weights, 5)

	code, out, err := c.ExecInTask(ctx, p.Service.ID, "/usr/local/bin/archway-proxy", "relay-check")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker exec <proxy> archway-proxy relay-check → exit %d:\n%s", code, out)
	for _, want := range []string{"refused  POST /services/create: 403", "refused  GET /containers/json: 403", "/logs: 403", "allowed  GET /services"} {
		if !strings.Contains(out, want) {
			t.Errorf("relay-check output lacks %q", want)
		}
	}
	if code != 0 {
		t.Errorf("relay-check exit %d: the proxy can do more to the cluster than read it", code)
	}

	// The provider follows labels through the relay.
	setWeight(t, c, cols["green"].service.ID, 3)
	want := map[string]int{"blue": 1, "green": 3}
	st.WaitOn(t, "proxy to follow green's weight label to 3", p.HasBackends(upper(want), len(c.NodeList())), c.Timeout(30*time.Second))
	sampleExact(t, c, p, want, 3)
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
