package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// TestProxyReachesEveryArchAtTheWeights: the proxy, learning its backends from service
// labels, reaches every architecture; each answer carries the colour the proxy chose (the
// app echoes the Color header); and over whole SWRR cycles of one proxy replica the split
// is exactly the weights. Two proxies in front of the same services — the default
// configuration (no ENGINE: the event loops) and ENGINE=nethttp: each must pass every check.
func TestProxyReachesEveryArchAtTheWeights(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	group := c.Group(t)
	weights := map[string]int{"blue": 4, "green": 1}
	start := time.Now()
	cols := deployColours(t, c, group, weights)
	engines := []string{"default", proxy.EngineNetHTTP}
	proxies := map[string]st.Proxy{}
	for _, e := range engines {
		name := c.Name(strings.TrimPrefix(group, c.RunID+"-") + "-p-" + e) // ≤ 63 characters, Swarm's limit
		opts := []st.ServiceSpecOpt{st.WithName(name)}
		if e != "default" {
			opts = append(opts, st.WithEnv("ENGINE="+e))
		}
		proxies[e] = c.DeployProxy(t, group, opts...)
	}
	for _, e := range engines {
		took := st.WaitOn(t, e+" proxy to list both colours with a member per node", proxies[e].HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
		t.Logf("%s proxy had every member %v after it started; set-up total %v", e, took.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
		// 20 cycles × 5 = 100 requests: with 4 nodes each blue member is picked 20 times.
		got := sampleExact(t, c, proxies[e], weights, 20)
		requireArches(t, c, got)
	}

	// The split follows the labels, not a default: change them and measure again.
	weights = map[string]int{"blue": 2, "green": 3}
	for name, w := range weights {
		setWeight(t, c, cols[name].service.ID, w)
	}
	for _, e := range engines {
		took := st.WaitOn(t, e+" proxy to follow the new weight labels", proxies[e].HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
		t.Logf("label change visible in the %s proxy after %v", e, took.Round(100*time.Millisecond))
		sampleExact(t, c, proxies[e], weights, 10)
	}
}
