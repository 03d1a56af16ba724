package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/archwayhq/archway/swarm/rollout"
)

// MaxUnreachable bounds how long a step goes on without an answer from the proxy's
// admin API: the step is inconclusive meanwhile, and past this the release aborts.
const MaxUnreachable = 30 * time.Second

// errVerdict is a judgement that ends the release (a failed check, an inconclusive
// step past its bound, an operator's abort): its text is the one-line reason.
type errVerdict struct{ reason string }

func (e errVerdict) Error() string { return e.reason }

// weightsAt is the split of step pct: the canary's share, the rest on the stable colour.
func weightsAt(st State, pct int) rollout.Weights {
	return rollout.Weights{st.Canary: pct, st.Stable: 100 - pct}
}

// shift sets the weights and waits until the proxy serves them with every node's task.
func (r *Releaser) shift(ctx context.Context, w rollout.Weights, nodes int) (time.Duration, error) {
	t0 := time.Now()
	if err := rollout.SetWeights(ctx, r.API, r.Session.Group, w); err != nil {
		return 0, err
	}
	s := r.Session
	if err := rollout.WaitProxy(ctx, s.HTTP, s.AdminURL, s.AdminToken, w, nodes, s.Timeout); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// step runs step i (1-based) of the plan: the weights, then a window judged every
// Poll from the proxy's statistics until it passes (after Hold), fails, or stays
// inconclusive past MaxWait.
func (r *Releaser) step(ctx context.Context, i int, platforms []string, nodes int) error {
	st := r.snapshot()
	pct := r.Plan.Steps[i-1]
	// The window starts before the weights move: the canary's first user requests
	// after the change are judged too, not only those after the proxy confirmed it.
	before, rerr := r.read(ctx)
	took, err := r.shift(ctx, weightsAt(st, pct), nodes)
	if err != nil {
		return err
	}
	if err := r.update(ctx, func(s *State) {
		s.Phase, s.Step, s.Verdicts, s.Reason = PhaseStepping, i, nil, ""
	}); err != nil {
		return err
	}
	r.logf("\n==> step %d/%d: %s %d%%, %s %d%% (the proxy followed in %.1fs); hold %s, at least %d requests (%d per platform)",
		i, len(r.Plan.Steps), st.Canary, pct, st.Stable, 100-pct, took.Seconds(), r.Plan.Hold, r.Plan.MinRequests, r.Plan.MinPlatformRequests)
	var start *Reading
	if rerr == nil {
		start = &before
	}
	_, err = r.watch(ctx, fmt.Sprintf("step %d (%d%%)", i, pct), platforms, false, start)
	return err
}

// watch judges windows of the canary until the step ends; the window starts at start
// when given, else at watch's first reading. With paused, a pass does not end it: only
// `resume` does (or a failure, or `abort`).
func (r *Releaser) watch(ctx context.Context, where string, platforms []string, paused bool, start *Reading) (Judgement, error) {
	st := r.snapshot()
	// before is the window's start: given, or the first reading below (a proxy that
	// does not answer yet counts against MaxUnreachable like any other silence).
	before := start
	started, lastOK, lastLine := time.Now(), time.Now(), time.Time{}
	var j Judgement
	tick := time.NewTicker(r.poll())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-tick.C:
		}
		switch r.requested() {
		case PhaseAbort:
			return j, errVerdict{"aborted by an operator (`release abort`) at " + where}
		case PhaseResume:
			if paused {
				r.logf("    resume: the operator lets the release go on")
				return j, nil
			}
		}
		now := time.Now()
		reading, err := r.read(ctx)
		if err != nil {
			if now.Sub(lastOK) > MaxUnreachable {
				return j, errVerdict{fmt.Sprintf("proxy unreachable for %s at %s: %v", MaxUnreachable, where, err)}
			}
			continue // inconclusive: no figures
		}
		lastOK = now
		if before == nil {
			before, started = &reading, now
			continue
		}
		win, err := reading.Since(*before)
		if err != nil {
			r.logf("    %v", err)
			before, started = &reading, now
			continue
		}
		j = Judge(win, st.Canary, st.Stable, platforms, r.Plan.Thresholds)
		r.mu.Lock()
		r.st.Verdicts = views(j.Verdicts)
		r.mu.Unlock()
		held := now.Sub(started)
		switch {
		case j.Result == Fail:
			r.printVerdicts(j, held)
			return j, errVerdict{fmt.Sprintf("%s at %s", j.Reason, where)}
		case j.Result == Pass && held >= r.Plan.Hold && !paused:
			r.printVerdicts(j, held)
			return j, nil
		case held > r.Plan.MaxWait && !paused:
			r.printVerdicts(j, held)
			return j, errVerdict{fmt.Sprintf("inconclusive for %s at %s: %s", r.Plan.MaxWait, where, j.Reason)}
		}
		if now.Sub(lastLine) >= 5*time.Second {
			lastLine = now
			r.logf("    %4.0fs  %s  %s", held.Seconds(), j.Result, progressLine(j))
		}
	}
}

// read takes one reading of the proxy's statistics.
func (r *Releaser) read(ctx context.Context) (Reading, error) {
	s := r.Session
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := rollout.ProxyStatus(ctx, s.HTTP, s.AdminURL, s.AdminToken)
	if err != nil {
		return Reading{}, err
	}
	return readingFrom(st, time.Now()), nil
}

func progressLine(j Judgement) string {
	if len(j.Verdicts) == 0 {
		return ""
	}
	v := j.Verdicts[0]
	line := fmt.Sprintf("%s: %d requests, success %s", v.Scope, v.Requests, pct(v.Success))
	if j.Result != Pass {
		line += "; " + j.Reason
	}
	return line
}

// isVerdict reports whether err is a judgement (as opposed to a cluster error).
func isVerdict(err error) bool {
	var v errVerdict
	return errors.As(err, &v)
}
