package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/swarm/rollout"
)

// Release ships spec: preflight, deploy to the idle colour, smoke test, the plan's
// steps, promotion. Any failure after the first weight moved ends on the stable colour
// (ErrAborted with the one-line reason); so does an interrupted ctx. If the group's last
// release was abandoned mid-way (its owner died) and names the same image, it is
// continued where it stood.
func (r *Releaser) Release(ctx context.Context, spec Spec) error {
	if err := r.Plan.Validate(); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	cur, err := ReadCurrent(ctx, r.API, r.Session.Group)
	if err != nil {
		return err
	}
	if st := cur.State; st != nil && Active(st.Phase) {
		if err := r.refuseLive(*st); err != nil {
			return err
		}
		if !sameImage(st.Image, spec.Image) {
			return fmt.Errorf("release %s of %s was abandoned at %s: `release -image %s` or `resume` continues it, `abort` restores %s; then release %s",
				st.Release, st.Image, where(*st), st.Image, st.Stable, spec.Image)
		}
		r.logf("==> release %s of %s was abandoned by %s at %s: continuing it", st.Release, st.Image, st.Owner, where(*st))
		return r.continueRelease(ctx, cur, spec)
	}
	stable, canary, err := roles(cur.Services)
	if err != nil {
		return err
	}
	platforms, nodes, err := nodePlatforms(ctx, r.API)
	if err != nil {
		return err
	}
	if err := checkImage(ctx, r.API, spec.Image, platforms); err != nil {
		return err
	}
	if r.VerifyKey != "" {
		d, err := rollout.VerifiedImage(ctx, spec.Image, r.VerifyKey)
		if err != nil {
			return err
		}
		if !strings.Contains(spec.Image, "@") {
			spec.Image += "@" + d
		}
		r.logf("==> %s: signature verified with %s", spec.Image, r.VerifyKey)
	}
	if err := r.Session.Locate(ctx); err != nil {
		return err
	}
	now := time.Now().UTC()
	r.svcID, r.svc = cur.Services[canary].ID, cur.Services[canary].Spec.Name
	r.st = State{
		Rollout: proxy.Rollout{
			Release: "r-" + now.Format("20060102-150405"), Image: spec.Image, Phase: PhaseDeploying,
			Plan: slices.Clone(r.Plan.Steps), Canary: canary, Stable: stable, Started: now,
		},
		Owner: Owner(), Env: envPairs(spec.Env),
	}
	if err := r.claim(ctx); err != nil {
		return err
	}
	r.logf("==> release %s: %s to %s (idle), %s stays stable; plan %s%%; %d nodes on %s",
		r.st.Release, spec.Image, canary, stable, stepsString(r.Plan.Steps), nodes, platformList(platforms))
	return r.run(ctx, spec, platforms, nodes)
}

// continueRelease picks up an abandoned release at its phase and step.
func (r *Releaser) continueRelease(ctx context.Context, cur Current, spec Spec) error {
	st := *cur.State
	// The release goes on with what it recorded: the image as it was pinned (and
	// verified) when it began, and its settings unless this command names others.
	spec.Image = st.Image
	if spec.Env == nil {
		spec.Env = envMap(st.Env)
	}
	platforms, nodes, err := nodePlatforms(ctx, r.API)
	if err != nil {
		return err
	}
	if err := r.Session.Locate(ctx); err != nil {
		return err
	}
	r.svcID, r.svc = cur.Services[cur.StateService].ID, cur.Services[cur.StateService].Spec.Name
	st.Owner = Owner()
	r.st = st
	// The recorded plan, not this command's -steps: the release goes on as it began.
	r.Plan.Steps = st.Plan
	if err := r.claim(ctx); err != nil {
		return err
	}
	if st.Phase == PhaseAbort {
		return r.end(ctx, errVerdict{"aborted by an operator (`release abort`) at " + where(st)})
	}
	return r.run(ctx, spec, platforms, nodes)
}

// refuseLive is the error for a release whose owner still drives it.
func (r *Releaser) refuseLive(st State) error {
	now := time.Now()
	if !st.OwnerAlive(now) {
		return nil
	}
	return fmt.Errorf("%w: %s of %s at %s, owner %s (heartbeat %.0fs ago): watch it with `status`, stop it with `abort`",
		ErrRunning, st.Release, st.Image, where(st), st.Owner, now.Sub(st.Updated).Seconds())
}

// claim records r.st as the group's release unless another live release got there
// first (two `release` commands at once: the Swarm's version check orders the writes,
// and the loser sees the winner here).
func (r *Releaser) claim(ctx context.Context) error {
	cur, err := ReadCurrent(ctx, r.API, r.Session.Group)
	if err != nil {
		return err
	}
	if on := cur.State; on != nil && Active(on.Phase) && on.Release != r.st.Release {
		if err := r.refuseLive(*on); err != nil {
			return err
		}
	}
	return r.update(ctx, func(*State) {})
}

// run drives the release from its recorded phase to the end.
func (r *Releaser) run(ctx context.Context, spec Spec, platforms map[string]string, nodes int) error {
	hb, stop := context.WithCancel(ctx)
	defer stop()
	go r.heartbeat(hb)
	return r.end(ctx, r.drive(ctx, spec, platforms, nodes))
}

func (r *Releaser) drive(ctx context.Context, spec Spec, platforms map[string]string, nodes int) error {
	st := r.snapshot()
	if st.Phase == PhaseDeploying || st.Phase == PhaseSmoke {
		r.logf("\n==> deploy: %s to %s", spec.Image, r.svc)
		if err := r.deploy(ctx, spec, nodes); err != nil {
			return err
		}
		if err := r.update(ctx, func(s *State) { s.Phase = PhaseSmoke }); err != nil {
			return err
		}
		r.logf("\n==> smoke: every architecture through the proxy, before any user")
		if err := r.smoke(ctx, platforms, nodes); err != nil {
			return err
		}
		st.Step = 0
	}
	ps := make([]string, 0, len(platforms))
	for p := range platforms {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	for i := max(st.Step, 1); i <= len(r.Plan.Steps); i++ {
		// An operator's abort taken up during the deploy or the smoke test (or between
		// steps) ends the release before another weight moves.
		if r.requested() == PhaseAbort {
			return errVerdict{"aborted by an operator (`release abort`) before " + fmt.Sprintf("step %d (%d%%)", i, r.Plan.Steps[i-1])}
		}
		if r.Plan.Steps[i-1] == 100 && r.Plan.Pause && !r.skipPause {
			if err := r.pause(ctx, i-1, ps); err != nil {
				return err
			}
		}
		if err := r.step(ctx, i, ps, nodes); err != nil {
			return err
		}
	}
	return nil
}

// pause holds the release before its promotion, still judging the canary at the
// previous step's weights, until `resume`.
func (r *Releaser) pause(ctx context.Context, prev int, platforms []string) error {
	if err := r.update(ctx, func(s *State) {
		s.Phase, s.Step, s.Reason = PhasePaused, prev, "waiting for `release resume` before the promotion"
	}); err != nil {
		return err
	}
	r.logf("\n==> paused before the promotion: `go run ./swarm/release resume` promotes, `abort` restores %s (the canary is still judged meanwhile)", r.snapshot().Stable)
	_, err := r.watch(ctx, "the pause before promotion", platforms, true, nil)
	return err
}

// end records how the release ended. A nil err is a promotion; anything else puts the
// stable colour back in charge first, and says why in one line.
func (r *Releaser) end(ctx context.Context, err error) error {
	st := r.snapshot()
	if err == nil {
		if uerr := r.update(context.WithoutCancel(ctx), func(s *State) { s.Phase, s.Reason = PhasePromoted, "" }); uerr != nil {
			return uerr
		}
		r.logf("\n==> promoted %s: %s serves everything; %s is idle and takes the next release (%.0fs in all)",
			st.Release, st.Canary, st.Stable, time.Since(st.Started).Seconds())
		return nil
	}
	reason := err.Error()
	if ctx.Err() != nil && !isVerdict(err) {
		reason = "interrupted at " + where(st)
	}
	if errors.Is(err, ErrRunning) {
		return err
	}
	aerr := r.restore(context.WithoutCancel(ctx), reason)
	return errors.Join(fmt.Errorf("%w: %s", ErrAborted, reason), aerr)
}

// restore sets the canary's weight to 0 (the stable colour serves everything), records
// the reason, and waits a little for the proxy to follow. The canary's tasks stay for
// inspection until the next release replaces them.
func (r *Releaser) restore(ctx context.Context, reason string) error {
	st := r.snapshot()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	w := weightsAt(st, 0)
	if err := r.setWeightsNow(ctx, w); err != nil {
		return fmt.Errorf("restore %s: %w", st.Stable, err)
	}
	r.logf("\n==> abort: %s\n    weights %s written (%.1fs)", reason, w, time.Since(t0).Seconds())
	if err := r.update(ctx, func(s *State) { s.Phase, s.Reason = PhaseAborted, reason }); err != nil {
		return err
	}
	s := r.Session
	if s.AdminURL != "" {
		if err := waitServes(ctx, r, w); err != nil {
			r.logf("    the proxy has not confirmed yet: %v", err)
		} else {
			r.logf("    the proxy serves %s only (%.1fs after the verdict); %s's tasks stay for inspection", st.Stable, time.Since(t0).Seconds(), st.Canary)
		}
	}
	return nil
}

func where(st State) string {
	if st.Step > 0 && st.Step <= len(st.Plan) {
		if st.Phase == PhasePaused {
			return fmt.Sprintf("the pause after step %d (%d%%)", st.Step, st.Plan[st.Step-1])
		}
		return fmt.Sprintf("step %d (%d%%)", st.Step, st.Plan[st.Step-1])
	}
	return st.Phase
}

func platformList(p map[string]string) string {
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

// setWeightsNow writes the weights without waiting for the proxy.
func (r *Releaser) setWeightsNow(ctx context.Context, w rollout.Weights) error {
	return rollout.SetWeights(ctx, r.API, r.Session.Group, w)
}

// waitServes polls the proxy until it serves w (weights only: members may be coming
// and going), for at most 30s.
func waitServes(ctx context.Context, r *Releaser, w rollout.Weights) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s := r.Session
	for {
		st, err := rollout.ProxyStatus(ctx, s.HTTP, s.AdminURL, s.AdminToken)
		if err == nil {
			ok := true
			for _, b := range st.Backends {
				if want, in := w[strings.ToLower(b.Name)]; in && b.Weight != want {
					ok = false
				}
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("weights not %s yet", w)
			}
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
