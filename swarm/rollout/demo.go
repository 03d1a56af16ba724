package rollout

import (
	"context"
	"fmt"
	"time"
)

// Step is one stage of a blue/green rollout.
type Step struct {
	Name    string
	Weights Weights
}

// Rollout is the classic sequence: everyone on blue, a canary on green, promotion, and
// the rollback that a real incident would need.
var Rollout = []Step{
	{"canary", Weights{"blue": 4, "green": 1}},
	{"promote", Weights{"blue": 0, "green": 1}},
	{"rollback", Weights{"blue": 1, "green": 0}},
}

// StepResult is what one step measured.
type StepResult struct {
	Step    Step
	Shift   time.Duration // label update → proxy serving the new weights everywhere
	Load    LoadResult    // the background load across the change
	Split   map[string]int
	SplitOK error
}

// Demo shows a person what archway does on their cluster: which architectures answer
// through which colour, then canary → promote → rollback with a steady background load
// across every change, and an exact split measured after each. It returns an error if a
// request failed or a split was off, after printing everything.
func (s *Session) Demo(ctx context.Context, n int) ([]StepResult, error) {
	start := Weights{"blue": 1, "green": 0}
	s.logf("==> waiting for every colour on every node and the proxy to see them")
	nodes, err := s.Converge(ctx, start)
	if err != nil {
		return nil, err
	}
	s.logf("    %d nodes; proxy %s, admin %s", nodes, s.ProxyURL, s.AdminURL)
	s.logf("\n==> %d requests through the proxy, weights %s", n, start)
	if _, err := s.Measure(ctx, n, start); err != nil {
		return nil, err
	}

	var results []StepResult
	var failed error
	for _, st := range Rollout {
		s.logf("\n==> %s: weights %s, under a steady load", st.Name, st.Weights)
		load := StartLoad(ctx, s.HTTP, s.ProxyURL+"/", 4, 5*time.Millisecond)
		t0 := time.Now()
		err := s.Shift(ctx, st.Weights)
		shift := time.Since(t0)
		// Keep the load on a little longer: tasks of the old colour are still draining.
		time.Sleep(2 * time.Second)
		lr := load.Stop()
		if err != nil {
			return results, fmt.Errorf("%s: %w", st.Name, err)
		}
		s.logf("    load across the change: %s", lr)
		t, err := s.Measure(ctx, n, st.Weights)
		res := StepResult{Step: st, Shift: shift, Load: lr, Split: t.ByColor(), SplitOK: err}
		results = append(results, res)
		if err != nil && failed == nil {
			failed = fmt.Errorf("%s: %w", st.Name, err)
		}
		if lr.Failed > 0 && failed == nil {
			failed = fmt.Errorf("%s: %s", st.Name, lr)
		}
	}
	s.logf("\n==> summary")
	for _, r := range results {
		verdict := "split exact"
		if r.SplitOK != nil {
			verdict = r.SplitOK.Error()
		}
		s.logf("    %-8s %-16s shift %5.1fs  load %-34s %s", r.Step.Name, r.Step.Weights, r.Shift.Seconds(), r.Load, verdict)
	}
	return results, failed
}
