package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/swarmprovider"
	"github.com/archwayhq/archway/swarm/rollout"
)

// Phases of a release, as the archway.release label records them.
const (
	PhaseDeploying = "deploying" // the canary's service is being updated
	PhaseSmoke     = "smoke"     // every architecture answers through the override header
	PhaseStepping  = "stepping"  // users reach the canary at Plan.Steps[Step-1] percent
	PhasePaused    = "paused"    // held before the promotion until `resume`
	PhaseResume    = "resume"    // `resume` asked a paused release to go on
	PhaseAbort     = "abort"     // `abort` asked a running release to stop
	PhasePromoted  = "promoted"  // done: the canary is the stable colour now
	PhaseAborted   = "aborted"   // the stable colour serves everything again
)

// Active reports whether a release in this phase still has, or wants, an owner (the
// proxy's rule: it stops sending users to the canary of an active release nobody
// updates).
func Active(phase string) bool { return (&proxy.Rollout{Phase: phase}).Active() }

// State is the value of the archway.release label on the canary's service: everything
// a release knows, so that any machine can show it and the next command can continue
// or undo it. Its public part is proxy.Rollout — the schema the proxy reads from the
// same label and shows in /status and on /ui — and the rest is the release tool's own.
type State struct {
	proxy.Rollout

	// Owner is host:pid of the process driving the release; it rewrites the label
	// (Rollout.Updated) every HeartbeatEvery. A release whose owner is gone can be
	// continued or undone by anyone.
	Owner string `json:"owner,omitempty"`
	// Env is what this release set on the canary (NAME=value, besides ReleaseEnv), so
	// that a resumed release sets the same, and the next release removes them first:
	// one release's setting (or fault injection) does not leak into the next.
	Env []string `json:"env,omitempty"`
}

// View is v as the proxy shows it.
func (v Verdict) View() proxy.RolloutVerdict {
	return proxy.RolloutVerdict{Scope: v.Scope, Result: string(v.Result), Requests: v.Requests,
		Success: v.Success, P99MS: float64(v.P99) / float64(time.Millisecond), Detail: v.Detail}
}

// views converts a judgement's verdicts for the label.
func views(vs []Verdict) []proxy.RolloutVerdict {
	out := make([]proxy.RolloutVerdict, len(vs))
	for i, v := range vs {
		out[i] = v.View()
	}
	return out
}

// verdictsOf reads verdicts back from the label.
func verdictsOf(vs []proxy.RolloutVerdict) []Verdict {
	out := make([]Verdict, len(vs))
	for i, v := range vs {
		out[i] = Verdict{Scope: v.Scope, Result: Result(v.Result), Requests: v.Requests, Success: v.Success,
			P99: time.Duration(v.P99MS * float64(time.Millisecond)), Detail: v.Detail}
	}
	return out
}

// ReleaseEnv is the variable every release sets on the canary's tasks: the release id.
// archway-app reports it in /api/info, so that smoke tests know a task runs this release
// (and a release of the same image still restarts every task).
const ReleaseEnv = "ARCHWAY_RELEASE"

// HeartbeatEvery is how often a running release refreshes its label; StaleAfter is when
// a release whose owner cannot be asked (another machine) counts as abandoned.
const (
	HeartbeatEvery = 5 * time.Second
	StaleAfter     = proxy.RolloutStaleAfter
)

// Owner is this process as a release owner: host:pid.
func Owner() string {
	h, _ := os.Hostname()
	return h + ":" + strconv.Itoa(os.Getpid())
}

// OwnerAlive says whether st's owner still drives it: on this host, whether its process
// exists; elsewhere, whether its heartbeat is fresh.
func (st State) OwnerAlive(now time.Time) bool {
	if st.Owner == "" {
		return false
	}
	host, pid, _ := strings.Cut(st.Owner, ":")
	if h, _ := os.Hostname(); h == host {
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 {
			return false
		}
		return syscall.Kill(n, 0) == nil || errors.Is(syscall.Kill(n, 0), syscall.EPERM)
	}
	return now.Sub(st.Updated) < StaleAfter
}

// Current is the group's colour services and the newest release label among them.
type Current struct {
	Services map[string]swarm.Service // by colour
	State    *State                   // nil: no release was ever recorded
	// StateService is the colour whose service carries State.
	StateService string
	// Problem is a label that did not parse (reported, not fatal).
	Problem error
}

// ReadCurrent reads the group's services and their release labels.
func ReadCurrent(ctx context.Context, api rollout.ServiceAPI, group string) (Current, error) {
	svcs, err := rollout.GroupServices(ctx, api, group)
	if err != nil {
		return Current{}, err
	}
	cur := Current{Services: svcs}
	for colour, svc := range svcs {
		raw, ok := svc.Spec.Labels[swarmprovider.LabelRelease]
		if !ok || raw == "" {
			continue
		}
		st, err := parseState(raw)
		if err != nil {
			cur.Problem = fmt.Errorf("service %s label %s: %w", svc.Spec.Name, swarmprovider.LabelRelease, err)
			continue
		}
		if cur.State == nil || st.Updated.After(cur.State.Updated) {
			cur.State, cur.StateService = st, colour
		}
	}
	return cur, nil
}

// parseState reads a label value; nil for none.
func parseState(raw string) (*State, error) {
	if raw == "" {
		return nil, nil
	}
	var st State
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// recordState rewrites the release label of service id: change gets what the label
// says now (nil for none, or a label that does not parse) and returns the state to
// write, or an error to stop. The write is made over the very spec change saw (see
// rollout.UpdateService), so that a request another command wrote in between is seen,
// not overwritten.
func recordState(ctx context.Context, api rollout.ServiceAPI, id string, change func(on *State) (State, error)) error {
	_, err := rollout.UpdateService(ctx, api, id, swarm.ServiceUpdateOptions{}, func(s *swarm.ServiceSpec) (bool, error) {
		on, _ := parseState(s.Labels[swarmprovider.LabelRelease])
		st, err := change(on)
		if err != nil {
			return false, err
		}
		b, err := json.Marshal(st)
		if err != nil {
			return false, err
		}
		s.Labels[swarmprovider.LabelRelease] = string(b)
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record the release on service %s: %w", id, err)
	}
	return nil
}
