package delivery

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/archwayhq/archway/app"
	"github.com/archwayhq/archway/swarm/rollout"
)

// smoke sends requests for /api/info through the proxy with the override header naming
// the canary — still at weight 0, so no user reaches it — until every node has answered
// with this release, and every platform among them. A release whose tasks run but do
// not answer (or answer with the old release) never gets user traffic.
func (r *Releaser) smoke(ctx context.Context, platforms map[string]string, nodes int) error {
	st := r.snapshot()
	if r.OverrideHeader == "" {
		return fmt.Errorf("smoke test: no override header (the proxy's OVERRIDE_HEADER) to reach the idle canary with")
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.Session.Timeout)
	defer cancel()
	hosts := map[string]string{} // task hostname → platform
	sent, last := 0, ""
	url := strings.TrimSuffix(r.Session.ProxyURL, "/") + "/api/info"
	for {
		info, err := r.smokeOne(ctx, url, st.Canary)
		sent++
		switch {
		case err != nil:
			last = err.Error()
		case info.Release != st.Release:
			last = fmt.Sprintf("task %s answered release %q, not %s", info.Hostname, info.Release, st.Release)
		default:
			hosts[info.Hostname] = info.Platform
		}
		missing := missingPlatforms(platforms, hosts)
		if len(hosts) >= nodes && len(missing) == 0 {
			r.logf("    %d tasks on %d platforms answered release %s through the proxy (%s: %s; %d requests, %.1fs)",
				len(hosts), len(platforms), st.Release, r.OverrideHeader, st.Canary, sent, time.Since(t0).Seconds())
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("smoke test of %s through the proxy: after %s, %d of %d tasks answered release %s (missing platforms: %s; last: %s)",
				st.Canary, r.Session.Timeout, len(hosts), nodes, st.Release, strings.Join(missing, ","), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// smokeOne asks /api/info with the override header naming colour.
func (r *Releaser) smokeOne(ctx context.Context, url, colour string) (app.Info, error) {
	h := http.Header{}
	h.Set(r.OverrideHeader, colour)
	info, err := rollout.GetInfo(ctx, r.Session.HTTP, url, h)
	if err != nil {
		return info, fmt.Errorf("%s: %s: %w", r.OverrideHeader, colour, err)
	}
	// The app echoes the Color header the proxy set: the proxy's choice, not ours.
	if !strings.EqualFold(info.Color, colour) {
		return info, fmt.Errorf("GET /api/info with %s: %s was answered through colour %q (is the proxy's OVERRIDE_HEADER %s?)", r.OverrideHeader, colour, info.Color, r.OverrideHeader)
	}
	return info, nil
}

func missingPlatforms(want map[string]string, hosts map[string]string) []string {
	have := map[string]bool{}
	for _, p := range hosts {
		have[p] = true
	}
	var out []string
	for p := range want {
		if !have[p] {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
