package rollout

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// ClusterAPI is what waiting for convergence reads.
type ClusterAPI interface {
	ServiceAPI
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
}

// Convergence says, per service, which ready nodes still lack a running task.
type Convergence struct {
	Nodes   int
	Missing map[string][]string // service name → node hostnames without a running task
	Errors  map[string]string   // service name → the latest task error or pending reason
	// Updating lists services whose rolling update is still under way (a redeploy of
	// a new image): their tasks are about to be replaced, so they have not converged.
	Updating []string
}

// Done reports whether every service runs everywhere and none is mid-update.
func (c Convergence) Done() bool { return len(c.Missing) == 0 && len(c.Updating) == 0 }

// String says what is still missing, for progress lines and timeout errors.
func (c Convergence) String() string {
	if c.Done() {
		return fmt.Sprintf("all services running on %d nodes", c.Nodes)
	}
	names := make([]string, 0, len(c.Missing))
	for n := range c.Missing {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s not running on %s", n, strings.Join(c.Missing[n], ","))
		if e := c.Errors[n]; e != "" {
			fmt.Fprintf(&b, " (last: %s)", e)
		}
	}
	if len(c.Updating) > 0 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "rolling update under way: %s", strings.Join(c.Updating, ","))
	}
	return b.String()
}

// CheckGlobal compares the running tasks of the group's global services with the ready
// nodes of the cluster. Replicated services count as converged when all replicas run.
func CheckGlobal(ctx context.Context, api ClusterAPI, group string) (Convergence, error) {
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return Convergence{}, fmt.Errorf("list nodes: %w", err)
	}
	ready := map[string]string{}
	for _, n := range nodes {
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive {
			ready[n.ID] = n.Description.Hostname
		}
	}
	byColor, err := GroupServices(ctx, api, group)
	if err != nil {
		return Convergence{}, err
	}
	conv := Convergence{Nodes: len(ready), Missing: map[string][]string{}, Errors: map[string]string{}}
	for _, svc := range byColor {
		if u := svc.UpdateStatus; u != nil && (u.State == swarm.UpdateStateUpdating || u.State == swarm.UpdateStateRollbackStarted) {
			conv.Updating = append(conv.Updating, svc.Spec.Name)
		}
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
			filters.Arg("service", svc.ID), filters.Arg("desired-state", "running"))})
		if err != nil {
			return Convergence{}, fmt.Errorf("list tasks of %s: %w", svc.Spec.Name, err)
		}
		running := map[string]bool{}
		for _, t := range tasks {
			if t.Status.State == swarm.TaskStateRunning {
				running[t.NodeID] = true
				continue
			}
			if msg := strings.TrimSpace(t.Status.Err + " " + t.Status.Message); msg != "" {
				conv.Errors[svc.Spec.Name] = fmt.Sprintf("%s on %s: %s", t.Status.State, ready[t.NodeID], msg)
			}
		}
		for id, host := range ready {
			if !running[id] {
				conv.Missing[svc.Spec.Name] = append(conv.Missing[svc.Spec.Name], host)
			}
		}
		slices.Sort(conv.Missing[svc.Spec.Name])
	}
	slices.Sort(conv.Updating)
	return conv, nil
}

// WaitGlobal polls CheckGlobal until every service of group runs on every ready node,
// calling progress (if non-nil) when the picture changes. On timeout the error says what
// was still missing and the last task error.
func WaitGlobal(ctx context.Context, api ClusterAPI, group string, timeout time.Duration, progress func(Convergence)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		conv, err := CheckGlobal(ctx, api, group)
		if err == nil && conv.Done() {
			return nil
		}
		if err == nil && progress != nil && conv.String() != last {
			progress(conv)
			last = conv.String()
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("waiting for group %q to run on every node: %w", group, err)
			}
			return fmt.Errorf("waiting %s for group %q to run on every node: %s", timeout, group, conv)
		case <-time.After(time.Second):
		}
	}
}
