package tests

import (
	"testing"
	"time"

	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// TestProxyReachesEveryArchAtTheWeights: the proxy, learning its backends from service
// labels, reaches every architecture; each answer carries the colour the proxy chose (the
// app echoes the Color header); and over whole SWRR cycles of one proxy replica the split
// is exactly the weights.
func TestProxyReachesEveryArchAtTheWeights(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	group := c.Group(t)
	weights := map[string]int{"blue": 4, "green": 1}
	start := time.Now()
	cols := deployColours(t, c, group, weights)
	p := c.DeployProxy(t, group)
	took := st.WaitOn(t, "proxy to list both colours with a member per node", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	t.Logf("proxy had every member %v after it started; set-up total %v", took.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))

	// 20 cycles × 5 = 100 requests: with 4 nodes each blue member is picked 20 times.
	got := sampleExact(t, c, p, weights, 20)
	requireArches(t, c, got)

	// The split follows the labels, not a default: change them and measure again.
	weights = map[string]int{"blue": 2, "green": 3}
	for name, w := range weights {
		setWeight(t, c, cols[name].service.ID, w)
	}
	took = st.WaitOn(t, "proxy to follow the new weight labels", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	t.Logf("label change visible in the proxy after %v", took.Round(100*time.Millisecond))
	sampleExact(t, c, p, weights, 10)
}
