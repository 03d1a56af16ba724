package delivery

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Status prints the group's latest release (from its label: no process needs to be
// running) and, when the proxy answers, what it serves now.
func (r *Releaser) Status(ctx context.Context) error {
	cur, err := ReadCurrent(ctx, r.API, r.Session.Group)
	if err != nil {
		return err
	}
	if cur.Problem != nil {
		r.logf("warning: %v", cur.Problem)
	}
	if cur.State == nil {
		r.logf("no release recorded in group %q yet", r.Session.Group)
	} else {
		WriteState(r.Out, *cur.State, time.Now())
	}
	for _, c := range sortedColours(cur) {
		svc := cur.Services[c]
		img := "-"
		if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
			img = cs.Image
		}
		r.logf("colour   %-6s weight %-4s %s", c, svc.Spec.Labels["archway.weight"], img)
	}
	return nil
}

// Abort ends the group's active release on its stable colour. A live owner is asked
// (through the label) and does it itself within a heartbeat; an abandoned release is
// restored here.
func (r *Releaser) Abort(ctx context.Context) error {
	cur, err := ReadCurrent(ctx, r.API, r.Session.Group)
	if err != nil {
		return err
	}
	st := cur.State
	if st == nil || !Active(st.Phase) {
		return fmt.Errorf("abort: no active release in group %q%s", r.Session.Group, lastRelease(st))
	}
	r.svcID, r.svc = cur.Services[cur.StateService].ID, cur.Services[cur.StateService].Spec.Name
	if st.OwnerAlive(time.Now()) {
		return r.ask(ctx, *st, PhaseAbort, PhaseAborted)
	}
	r.st = *st
	r.st.Owner = Owner()
	_ = r.Session.Locate(ctx) // to confirm the proxy followed; the weights do not need it
	reason := fmt.Sprintf("aborted by an operator (`release abort`; owner %s gone) at %s", st.Owner, where(*st))
	return r.restore(ctx, reason)
}

// Resume lets a paused release promote. An abandoned release (any phase) is continued
// here, as `release` with its image would.
func (r *Releaser) Resume(ctx context.Context) error {
	cur, err := ReadCurrent(ctx, r.API, r.Session.Group)
	if err != nil {
		return err
	}
	st := cur.State
	if st == nil || !Active(st.Phase) {
		return fmt.Errorf("resume: no active release in group %q%s", r.Session.Group, lastRelease(st))
	}
	if st.OwnerAlive(time.Now()) {
		if st.Phase != PhasePaused {
			return fmt.Errorf("resume: release %s is not paused (%s at %s): its owner %s drives it", st.Release, st.Phase, where(*st), st.Owner)
		}
		r.svcID, r.svc = cur.Services[cur.StateService].ID, cur.Services[cur.StateService].Spec.Name
		return r.ask(ctx, *st, PhaseResume, PhaseStepping, PhasePromoted, PhaseAborted)
	}
	r.logf("==> release %s of %s was abandoned by %s at %s: continuing it", st.Release, st.Image, st.Owner, where(*st))
	if st.Phase == PhasePaused {
		// Nobody is left to be asked: resuming is the operator's go-ahead.
		st.Phase = PhaseStepping
		st.Step++
		cur.State = st
		r.skipPause = true
	}
	return r.continueRelease(ctx, cur, Spec{Image: st.Image})
}

// ask writes a request into a live release's label and waits until its owner has
// taken it up (the phase moved to one of done).
func (r *Releaser) ask(ctx context.Context, st State, request string, done ...string) error {
	// Only the phase changes, on the label as it is now: the owner's newer step and
	// verdicts stay.
	if err := recordState(ctx, r.API, r.svcID, func(on *State) (State, error) {
		if on == nil || on.Release != st.Release || !Active(on.Phase) {
			return State{}, fmt.Errorf("%s: release %s is no longer active", request, st.Release)
		}
		on.Phase = request
		return *on, nil
	}); err != nil {
		return err
	}
	r.logf("asked %s (owner %s) to %s; waiting for it", st.Release, st.Owner, request)
	ctx, cancel := context.WithTimeout(ctx, 4*HeartbeatEvery+r.poll())
	defer cancel()
	for {
		cur, err := ReadCurrent(ctx, r.API, r.Session.Group)
		if err == nil && cur.State != nil && cur.State.Release == st.Release {
			for _, d := range done {
				if cur.State.Phase == d {
					r.logf("release %s: %s", st.Release, cur.State.Phase)
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: release %s did not take up the request within %s (is its owner %s stuck?)", request, st.Release, 4*HeartbeatEvery, st.Owner)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func lastRelease(st *State) string {
	if st == nil {
		return ""
	}
	return fmt.Sprintf(" (the last, %s, is %s)", st.Release, st.Phase)
}

func sortedColours(cur Current) []string {
	out := make([]string, 0, len(cur.Services))
	for c := range cur.Services {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
