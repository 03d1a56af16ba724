// Package swarmprovider discovers archway backends from a Docker Swarm: every service
// labelled archway.color=<name> and archway.weight=<n> is one colour, and each of its running
// tasks is one member. It implements proxy.Provider and follows the cluster without restart:
// Docker events (services, nodes) trigger a read at once, and a short periodic read catches
// what the events API does not report (task state changes).
package swarmprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/archwayhq/archway/proxy"
)

// API is the part of the Docker client the provider uses; *client.Client implements it,
// tests use a fake.
type API interface {
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
}

// Provider follows archway services on a Swarm. Create it with New or NewWithAPI.
type Provider struct {
	// OnRollout, when set before Run, receives the rollout the services' LabelRelease
	// labels report (nil: none) after the first read and whenever it changes;
	// archway-proxy passes (*proxy.Proxy).SetRollout.
	OnRollout func(*proxy.Rollout)

	api API
	cfg Config
	log *slog.Logger
	// debounce coalesces bursts of events (a stack deploy emits dozens) into one read.
	debounce time.Duration
}

var _ proxy.Provider = (*Provider)(nil)

// New connects to the Docker engine named by the environment (DOCKER_HOST, DOCKER_CERT_PATH,
// …; the local socket by default), negotiating the API version so that old engines (20.10,
// API 1.41) work. The engine must be a Swarm manager. No request is made until Run.
func New(cfg Config, log *slog.Logger) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("swarm provider: docker client: %w", err)
	}
	return NewWithAPI(cli, cfg, log), nil
}

// NewWithAPI is New on an existing client (or a fake). cfg is used as given; zero Resync
// means DefaultResync.
func NewWithAPI(api API, cfg Config, log *slog.Logger) *Provider {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	return &Provider{api: api, cfg: cfg, log: log.With("provider", "swarm"), debounce: 200 * time.Millisecond}
}

// Run reads the cluster, calls apply with the backend set whenever it changes, and keeps
// following the cluster until ctx ends (then it returns nil). Errors talking to Docker are
// logged and retried, never fatal: a manager restarting must not stop the proxy, which keeps
// its last backend set meanwhile.
func (p *Provider) Run(ctx context.Context, apply func([]proxy.BackendSpec) error) error {
	kick := make(chan struct{}, 1)
	// The event stream starts after the first successful read: the Docker client
	// negotiates its API version on its first call and Events reads that version
	// without a lock, so starting both at once is a data race in the client.
	watching := false
	f := &follower{p: p, apply: apply, lastProblems: map[string]bool{}, lastBadLabels: map[string]bool{}}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for p.nextRead(ctx, kick, timer) {
		rd, err := p.read(ctx)
		timer.Reset(p.cfg.Resync)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.readFailed(err)
			continue
		}
		f.readWorks()
		if !watching {
			watching = true
			go p.watch(ctx, kick)
		}
		f.follow(rd)
	}
	return nil
}

// nextRead waits for the next read: the resync timer, or an event followed by the
// debounce (so that a burst is one read); false once ctx has ended.
func (p *Provider) nextRead(ctx context.Context, kick <-chan struct{}, timer *time.Timer) bool {
	select {
	case <-ctx.Done():
		return false
	case <-kick:
		select {
		case <-ctx.Done():
			return false
		case <-time.After(p.debounce):
		}
	case <-timer.C:
	}
	return true
}

// follower is Run's memory between reads: what it last applied, handed to OnRollout
// and logged, so that each change is applied and logged once, not at every resync.
type follower struct {
	p     *Provider
	apply func([]proxy.BackendSpec) error

	lastKey      string // the backend set last offered to apply (specsKey+infoKey)
	applied      bool
	lastProblems map[string]bool
	lastErr      string // the read error last logged
	// the rollout label last handed to OnRollout, and the bad ones last warned of
	lastRollout   string
	rolloutSent   bool
	lastGuarded   bool
	lastBadLabels map[string]bool
}

// readFailed logs a failure once, not every resync, until it changes or clears.
func (f *follower) readFailed(err error) {
	if err.Error() != f.lastErr {
		f.p.log.Error("reading swarm failed; keeping the current backends", "err", err)
		f.lastErr = err.Error()
	}
}

// readWorks logs that reading works again after a failure.
func (f *follower) readWorks() {
	if f.lastErr != "" {
		f.p.log.Info("reading swarm works again")
		f.lastErr = ""
	}
}

// follow acts on one reading: bad labels and problems logged when new, the rollout
// handed on when it changed, an abandoned release's canary guarded, and the backend
// set applied when it changed.
func (f *follower) follow(rd reading) {
	f.lastBadLabels = f.p.warnBadLabels(rd.badRollouts, f.lastBadLabels)
	if f.p.OnRollout != nil && (!f.rolloutSent || rd.rolloutKey != f.lastRollout) {
		f.p.OnRollout(rd.rollout)
		f.lastRollout, f.rolloutSent = rd.rolloutKey, true
	}
	specs := f.guard(rd)
	f.logProblems(rd.problems)
	f.offer(specs)
}

// guard returns the backend set to apply: the reading's, with an abandoned release's
// canary taken out of the split (logged when that starts and ends).
func (f *follower) guard(rd reading) []proxy.BackendSpec {
	specs, guarded := guardAbandoned(rd.specs, rd.rollout, rd.rollout.Abandoned(time.Now()))
	if guarded != f.lastGuarded {
		if guarded {
			f.p.log.Warn("release abandoned: its canary gets no new requests until the release is continued or aborted",
				"release", rd.rollout.Release, "canary", rd.rollout.Canary, "stable", rd.rollout.Stable,
				"phase", rd.rollout.Phase, "last_update", rd.rollout.Updated)
		} else {
			f.p.log.Info("release watched again (or ended): the weight labels apply")
		}
		f.lastGuarded = guarded
	}
	return specs
}

// logProblems logs each problem of the reading that the last reading did not have.
func (f *follower) logProblems(problems []error) {
	now := map[string]bool{}
	for _, pr := range problems {
		now[pr.Error()] = true
		if !f.lastProblems[pr.Error()] {
			f.p.log.Error(pr.Error())
		}
	}
	f.lastProblems = now
}

// offer applies specs unless they are the set last offered.
func (f *follower) offer(specs []proxy.BackendSpec) {
	key := specsKey(specs)
	if f.applied && key+infoKey(specs) == f.lastKey {
		return
	}
	// Whatever apply says, don't offer the same set again: apply is deterministic
	// validation, and a rejected set would otherwise be logged every resync.
	f.lastKey, f.applied = key+infoKey(specs), true
	if err := f.apply(specs); err != nil {
		f.p.log.Error("backend set rejected by the proxy", "backends", key, "err", err)
		return
	}
	f.p.log.Info("backends updated", "backends", key)
}

// reading is what one read of the cluster says.
type reading struct {
	specs    []proxy.BackendSpec
	problems []error // bad labels or tasks: those services or members are left out
	// rollout is what LabelRelease says (nil: none), rolloutKey which label it came from;
	// badRollouts are the labels that did not parse (Config.rollout).
	rollout     *proxy.Rollout
	rolloutKey  string
	badRollouts map[string]string
}

// warnBadLabels writes one warn line for each bad rollout label not reported by the
// previous read, and returns the set now reported.
func (p *Provider) warnBadLabels(bad map[string]string, last map[string]bool) map[string]bool {
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	now := make(map[string]bool, len(bad))
	for _, k := range keys {
		now[k] = true
		if !last[k] {
			p.log.Warn(bad[k])
		}
	}
	return now
}

// read lists the candidate services, their tasks and all nodes, and builds the backend set.
func (p *Provider) read(ctx context.Context) (reading, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sf := filters.NewArgs(filters.Arg("label", LabelColor))
	if p.cfg.Group != "" {
		sf.Add("label", LabelGroup+"="+p.cfg.Group)
	}
	services, err := p.api.ServiceList(ctx, swarm.ServiceListOptions{Filters: sf})
	if err != nil {
		return reading{}, fmt.Errorf("list services: %w", err)
	}
	cl := cluster{services: services}
	if len(services) > 0 {
		tf := filters.NewArgs(filters.Arg("desired-state", "running"))
		for _, s := range services {
			tf.Add("service", s.ID)
		}
		if cl.tasks, err = p.api.TaskList(ctx, swarm.TaskListOptions{Filters: tf}); err != nil {
			return reading{}, fmt.Errorf("list tasks: %w", err)
		}
		if cl.nodes, err = p.api.NodeList(ctx, swarm.NodeListOptions{}); err != nil {
			return reading{}, fmt.Errorf("list nodes: %w", err)
		}
	}
	var rd reading
	rd.specs, rd.problems = p.cfg.backends(cl)
	rd.rollout, rd.rolloutKey, rd.badRollouts = p.cfg.rollout(cl, time.Now())
	return rd, nil
}

// watch turns Docker events about services and nodes into kicks; it resubscribes after a
// broken stream, since the periodic read covers the gap.
func (p *Provider) watch(ctx context.Context, kick chan<- struct{}) {
	f := filters.NewArgs(
		filters.Arg("type", string(events.ServiceEventType)),
		filters.Arg("type", string(events.NodeEventType)),
	)
	backoff := time.Second
	for {
		sctx, cancel := context.WithCancel(ctx)
		msgs, errs := p.api.Events(sctx, events.ListOptions{Filters: f})
		err := func() error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case _, ok := <-msgs:
					if !ok {
						return errors.New("event stream closed")
					}
					backoff = time.Second
					select {
					case kick <- struct{}{}:
					default:
					}
				case err := <-errs:
					return err
				}
			}
		}()
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.log.Debug("event stream ended; resubscribing", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// infoKey renders where the members of a backend set run, so that a node changing its
// name or platform is a change to apply (specsKey, which the log shows, leaves it out).
func infoKey(specs []proxy.BackendSpec) string {
	var parts []string
	for _, s := range specs {
		for _, u := range s.Members {
			if mi, ok := s.Info[u.String()]; ok {
				parts = append(parts, s.Name+" "+u.String()+" "+mi.Node+" "+mi.Platform)
			}
		}
	}
	slices.Sort(parts)
	return " |" + strings.Join(parts, "|")
}

// specsKey is a stable one-line rendering of a backend set: equal sets, equal keys.
func specsKey(specs []proxy.BackendSpec) string {
	if len(specs) == 0 {
		return "(none)"
	}
	parts := make([]string, 0, len(specs))
	for _, s := range specs {
		m := make([]string, 0, len(s.Members))
		for _, u := range s.Members {
			m = append(m, u.String())
		}
		slices.Sort(m)
		parts = append(parts, fmt.Sprintf("%s=%d[%s]", s.Name, s.Weight, strings.Join(m, " ")))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
