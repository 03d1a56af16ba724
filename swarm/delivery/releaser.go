package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/registry"

	"github.com/archwayhq/archway/swarm/rollout"
)

// ClusterAPI is the part of the Docker client a release uses: services, tasks and nodes,
// and the registry lookup the manager does for `docker service update --image`.
type ClusterAPI interface {
	rollout.ClusterAPI
	DistributionInspect(ctx context.Context, image, encodedRegistryAuth string) (registry.DistributionInspect, error)
}

// Spec is what one release ships: an image, and settings for the canary's tasks.
type Spec struct {
	// Image is the reference to deploy (a multi-arch index covering every node).
	Image string
	// Env is set on the canary's tasks for this release only (the next release removes
	// it): configuration that ships with the image, or the demo app's fault injection.
	Env map[string]string
}

// Releaser drives the releases of one group of colour services behind one proxy.
type Releaser struct {
	API ClusterAPI
	// Session locates the proxy and its admin API, and shifts weights.
	Session *rollout.Session
	Plan    Plan
	// OverrideHeader is the proxy's -override-header: the smoke test reaches the
	// idle canary through it before any user does.
	OverrideHeader string
	// VerifyKey, when set, is the public key the image's signatures must verify with
	// (index and every platform) before anything moves; the release then deploys the
	// digest it verified, not the tag.
	VerifyKey string
	// Poll is how often a step reads the proxy's statistics (DefaultPoll when 0).
	Poll time.Duration
	// Out receives the progress lines and tables.
	Out io.Writer

	// skipPause: the operator's `resume` already let this release past its pause.
	skipPause bool

	mu      sync.Mutex // guards st and request; the heartbeat writes st too
	st      State
	svcID   string // the canary's service
	svc     string // and its name
	request string // PhaseAbort or PhaseResume, asked by another command
}

// DefaultPoll is how often a step reads the proxy's statistics: the time from a broken
// canary's first failures to its verdict is at most about this plus one read.
const DefaultPoll = 250 * time.Millisecond

// ErrRunning says another live process drives a release of this group.
var ErrRunning = errors.New("a release is running")

// ErrAborted wraps the reason a release ended on the stable colour.
var ErrAborted = errors.New("release aborted")

func (r *Releaser) logf(format string, a ...any) { fmt.Fprintf(r.Out, format+"\n", a...) }

func (r *Releaser) poll() time.Duration {
	if r.Poll > 0 {
		return r.Poll
	}
	return DefaultPoll
}

// snapshot returns a copy of the state under the lock.
func (r *Releaser) snapshot() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Verdicts = slices.Clone(r.st.Verdicts)
	st.Plan = slices.Clone(r.st.Plan)
	return st
}

// update changes the state in memory and records it on the canary's service.
func (r *Releaser) update(ctx context.Context, change func(*State)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(&r.st)
	return r.saveLocked(ctx)
}

// saveLocked writes r.st (callers hold r.mu). A request another command left in the
// label (abort, resume) is taken up, not overwritten; a release another process took
// over stops this one.
func (r *Releaser) saveLocked(ctx context.Context) error {
	return recordState(ctx, r.API, r.svcID, func(on *State) (State, error) {
		if on != nil && on.Release == r.st.Release {
			// Another owner that is alive took the release over (this process was
			// thought dead): stop. A dead one is what this process takes over from.
			if on.Owner != r.st.Owner && on.Owner != "" && on.OwnerAlive(time.Now()) {
				return State{}, fmt.Errorf("release %s: taken over by %s", r.st.Release, on.Owner)
			}
			if (on.Phase == PhaseAbort || on.Phase == PhaseResume) && on.Phase != r.st.Phase && Active(r.st.Phase) {
				r.request = on.Phase
			}
		}
		r.st.Updated = time.Now().UTC()
		return r.st, nil
	})
}

// heartbeat refreshes the label until ctx ends, so that `status` anywhere, the next
// release and the proxy can tell a live release from an abandoned one.
func (r *Releaser) heartbeat(ctx context.Context) {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.mu.Lock()
			if err := r.saveLocked(ctx); err != nil && ctx.Err() == nil {
				r.logf("  heartbeat: %v", err)
			}
			r.mu.Unlock()
		}
	}
}

// requested returns (and clears) what another command asked of this release.
func (r *Releaser) requested() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.request
	r.request = ""
	return q
}
