package delivery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy/swarmprovider"
	"github.com/archwayhq/archway/swarm/rollout"
)

// deploy puts the release on the canary's service — image, its settings and the release
// id — and waits until every node runs a task of it. The canary has weight 0, so the
// update replaces every task at once: no user request reaches it yet.
func (r *Releaser) deploy(ctx context.Context, spec Spec, nodes int) error {
	st := r.snapshot()
	t0 := time.Now()
	updated, err := r.updateCanary(ctx, spec, st)
	if err != nil {
		return err
	}
	if updated {
		r.logf("    service %s: image %s, %s=%s%s", r.svc, spec.Image, ReleaseEnv, st.Release, envList(spec.Env))
	}
	ctx, cancel := context.WithTimeout(ctx, r.Session.Timeout)
	defer cancel()
	last := ""
	for {
		done, status, err := r.canaryRolledOut(ctx, st.Release, nodes)
		if err != nil {
			return err
		}
		if done {
			r.logf("    %d of %d nodes run release %s (%.0fs)", nodes, nodes, st.Release, time.Since(t0).Seconds())
			return nil
		}
		if status != last {
			r.logf("    waiting: %s", status)
			last = status
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deploy %s to %s: waited %s: %s", spec.Image, r.svc, r.Session.Timeout, status)
		case <-time.After(time.Second):
		}
	}
}

// updateCanary writes the canary's service spec; false when it already carries this
// release (a resumed release does not restart the tasks it already started).
func (r *Releaser) updateCanary(ctx context.Context, spec Spec, st State) (bool, error) {
	// The registry credential goes with the update (--with-registry-auth): the manager
	// resolves the digest and the nodes pull with it.
	auth, err := rollout.RegistryAuth(spec.Image)
	if err != nil {
		return false, err
	}
	opts := swarm.ServiceUpdateOptions{QueryRegistry: true, EncodedRegistryAuth: auth}
	updated, err := rollout.UpdateService(ctx, r.API, r.svcID, opts, func(s *swarm.ServiceSpec) (bool, error) {
		if s.TaskTemplate.ContainerSpec == nil {
			return false, fmt.Errorf("service %s has no container spec", s.Name)
		}
		cs := *s.TaskTemplate.ContainerSpec
		env := releaseEnv(cs.Env, previousEnv(s.Labels), spec.Env, st.Release)
		if sameImage(cs.Image, spec.Image) && slices.Equal(env, cs.Env) {
			return false, nil
		}
		cs.Image, cs.Env = spec.Image, env
		s.TaskTemplate.ContainerSpec = &cs
		// Nobody uses the idle colour: replace all its tasks at once.
		uc := swarm.UpdateConfig{}
		if s.UpdateConfig != nil {
			uc = *s.UpdateConfig
		}
		uc.Parallelism, uc.Delay = 0, 0
		s.UpdateConfig = &uc
		return true, nil
	})
	if err != nil {
		return false, fmt.Errorf("update service %s to %s: %w", r.svc, spec.Image, err)
	}
	return updated, nil
}

// sameImage compares a spec's image (the manager pins it to a digest: ref@sha256:…)
// with the reference a release names.
func sameImage(have, want string) bool {
	return have == want || strings.HasPrefix(have, want+"@")
}

// previousEnv is what the release recorded in the service's label set: removed before
// this release's settings go on.
func previousEnv(labels map[string]string) []string {
	st, err := parseState(labels[swarmprovider.LabelRelease])
	if err != nil || st == nil {
		return nil
	}
	return st.Env
}

// releaseEnv is env without the previous release's variables, with this one's.
func releaseEnv(env, previous []string, add map[string]string, release string) []string {
	drop := map[string]bool{ReleaseEnv: true}
	for _, kv := range previous {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	for k := range add {
		drop[k] = true
	}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, k+"="+add[k])
	}
	return append(out, ReleaseEnv+"="+release)
}

// envPairs renders env as sorted NAME=value pairs (State.Env).
func envPairs(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// envMap is envPairs undone.
func envMap(pairs []string) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func envList(env map[string]string) string {
	if len(env) == 0 {
		return ""
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k+"="+env[k])
	}
	slices.Sort(keys)
	return ", " + strings.Join(keys, " ")
}

// canaryRolledOut reports whether every node runs a task of this release, else what
// is missing; a Swarm that rolled the update back (the tasks kept failing) is an error.
func (r *Releaser) canaryRolledOut(ctx context.Context, release string, nodes int) (bool, string, error) {
	svc, _, err := r.API.ServiceInspectWithRaw(ctx, r.svcID, swarm.ServiceInspectOptions{})
	if err != nil {
		return false, "", fmt.Errorf("inspect the canary's service: %w", err)
	}
	if u := svc.UpdateStatus; u != nil {
		switch u.State {
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
			return false, "", fmt.Errorf("service %s: Swarm stopped the update (%s): %s", svc.Spec.Name, u.State, u.Message)
		}
	}
	tasks, err := r.API.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", r.svcID), filters.Arg("desired-state", "running"))})
	if err != nil {
		return false, "", fmt.Errorf("list the canary's tasks: %w", err)
	}
	want := ReleaseEnv + "=" + release
	running, lastErr := 0, ""
	for _, t := range tasks {
		if t.Spec.ContainerSpec == nil || !slices.Contains(t.Spec.ContainerSpec.Env, want) {
			continue
		}
		if t.Status.State == swarm.TaskStateRunning {
			running++
		} else if m := strings.TrimSpace(t.Status.Err + " " + t.Status.Message); m != "" {
			lastErr = fmt.Sprintf(" (a task is %s: %s)", t.Status.State, m)
		}
	}
	return running >= nodes, fmt.Sprintf("%d of %d nodes run release %s%s", running, nodes, release, lastErr), nil
}
