package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/archwayhq/archway/swarm/delivery"
	"github.com/archwayhq/archway/swarm/rollout"
)

// demoPlan is the plan of the demo's releases: the default steps, held long enough for
// the demo's load to reach every architecture at 5%.
func demoPlan() delivery.Plan {
	p := delivery.DefaultPlan()
	p.Hold, p.MaxWait = 15*time.Second, 3*time.Minute
	p.MinRequests, p.MinPlatformRequests = 150, 30
	// The lab's nodes are emulated: latency is uneven, so it is judged loosely here.
	p.MaxP99, p.MaxP99Ratio = 5*time.Second, 5
	return p
}

// releases shows progressive delivery under a steady load: a good release promoted step
// by step, then one that fails 3% of its requests on one architecture only — which the
// colour-wide success rate would let through — caught and rolled back on its own.
func releases(ctx context.Context, s *rollout.Session, api delivery.ClusterAPI, image, verifyKey string) error {
	// A Releaser drives one release: each gets its own.
	releaser := func() *delivery.Releaser {
		return &delivery.Releaser{API: api, Session: s, Plan: demoPlan(), OverrideHeader: "X-Archway-Color", Out: s.Out, VerifyKey: verifyKey}
	}
	load := rollout.StartLoad(ctx, s.HTTP, s.ProxyURL+"/", 8, 0)
	defer load.Stop()

	fmt.Fprintf(s.Out, "\n######## release 1: %s, a good one, under a steady load\n\n", image)
	t0 := time.Now()
	before := load.Snapshot()
	if err := releaser().Release(ctx, delivery.Spec{Image: image}); err != nil {
		return fmt.Errorf("the good release: %w", err)
	}
	good := load.Snapshot().Sub(before)
	goodTime := time.Since(t0)

	bad, err := badPlatform(ctx, api)
	if err != nil {
		return err
	}
	env := map[string]string{"FAIL_RATE": "0.03", "FAIL_PLATFORM": bad}
	fmt.Fprintf(s.Out, "\n######## release 2: the same image with FAIL_RATE=0.03 FAIL_PLATFORM=%s — 3%% failures on one node of %s\n\n", bad, bad)
	before = load.Snapshot()
	r2 := releaser()
	err = r2.Release(ctx, delivery.Spec{Image: image, Env: env})
	if !errors.Is(err, delivery.ErrAborted) {
		return fmt.Errorf("the release failing on %s was not aborted: %v", bad, err)
	}
	badLoad := load.Snapshot().Sub(before)

	fmt.Fprintf(s.Out, "\n######## summary of the releases\n")
	fmt.Fprintf(s.Out, "    release 1: promoted in %.0fs; load %s\n", goodTime.Seconds(), good)
	fmt.Fprintf(s.Out, "    release 2: %v\n               load %s\n", err, badLoad)
	if badLoad.Failed > 0 {
		fmt.Fprintf(s.Out, "               users saw failures for %.1fs (first %s, last %s)\n",
			badLoad.LastFail.Sub(badLoad.FirstFail).Seconds(), badLoad.FirstFail.Format("15:04:05.000"), badLoad.LastFail.Format("15:04:05.000"))
	}
	if good.Failed > 0 {
		return fmt.Errorf("the good release: %d user requests failed", good.Failed)
	}
	return r2.Status(ctx)
}

// badPlatform is where the demo's bad release fails: arm/v7 if a node runs it, else
// another architecture only one node runs.
func badPlatform(ctx context.Context, api delivery.ClusterAPI) (string, error) {
	count, err := delivery.PlatformCounts(ctx, api)
	if err != nil {
		return "", err
	}
	for _, p := range []string{"linux/arm/v7", "linux/arm64", "linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64"} {
		if count[p] == 1 {
			return p, nil
		}
	}
	return "", fmt.Errorf("the per-architecture release needs a platform that exactly one node runs (nodes: %v)", count)
}
