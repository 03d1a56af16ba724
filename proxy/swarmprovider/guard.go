package swarmprovider

import (
	"strings"

	"github.com/archwayhq/archway/proxy"
)

// guardAbandoned is the dead man's switch of progressive delivery: while a rollout is
// abandoned (its tool died mid-step: no heartbeat for proxy.RolloutStaleAfter), its
// canary gets weight 0 and the stable colour at least 1, whatever the weight labels
// say — a half-weighted canary nobody watches gets no new users until someone
// continues or aborts the release. The labels are left alone (the proxy cannot write
// to the cluster); the next `release` or `abort` sets them. ok reports whether it
// changed anything.
func guardAbandoned(specs []proxy.BackendSpec, r *proxy.Rollout, abandoned bool) (out []proxy.BackendSpec, ok bool) {
	if !abandoned || r == nil || r.Canary == "" || strings.EqualFold(r.Canary, r.Stable) {
		return specs, false
	}
	stable := -1
	for i, s := range specs {
		if strings.EqualFold(s.Name, r.Stable) {
			stable = i
		}
	}
	if stable < 0 {
		// Without a stable colour to fall back to, zeroing the canary would leave
		// nothing to serve: keep the labels' weights.
		return specs, false
	}
	out = make([]proxy.BackendSpec, len(specs))
	copy(out, specs)
	for i := range out {
		switch {
		case strings.EqualFold(out[i].Name, r.Canary) && out[i].Weight != 0:
			out[i].Weight, ok = 0, true
		case i == stable && out[i].Weight == 0:
			out[i].Weight, ok = 1, true
		}
	}
	return out, ok
}
