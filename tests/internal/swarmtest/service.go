package swarmtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// LabelRun marks every service the suite creates with its run ID (docker service ls
// --filter label=archway.test finds leftovers of a killed run).
const LabelRun = "archway.test"

// CreateService creates a service with QueryRegistry (so Swarm resolves the index and
// places tasks by platform) and removes it when the test ends.
func (c *Cluster) CreateService(t testing.TB, opts ...ServiceSpecOpt) swarm.Service {
	t.Helper()
	opts = append(opts, WithLabels(map[string]string{LabelRun: c.RunID}))
	spec := ServiceSpec(opts...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Client.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{QueryRegistry: true})
	if err != nil {
		t.Fatalf("create service %s (image %s): %v", spec.Name, spec.TaskTemplate.ContainerSpec.Image, err)
	}
	for _, w := range resp.Warnings {
		t.Logf("create service %s: warning: %s", spec.Name, w)
	}
	t.Cleanup(func() { c.removeService(t, resp.ID, spec.Name) })
	svc, _, err := c.Client.ServiceInspectWithRaw(ctx, resp.ID, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatalf("inspect service %s: %v", spec.Name, err)
	}
	return svc
}

// removeService removes a service and waits (bounded, without failing) for its tasks to go,
// so the next test starts on a quiet cluster.
func (c *Cluster) removeService(t testing.TB, id, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout(30*time.Second))
	defer cancel()
	if err := c.Client.ServiceRemove(ctx, id); err != nil && !isNotFound(err) {
		t.Errorf("cleanup: remove service %s: %v", name, err)
		return
	}
	_, err := waitOn("tasks of "+name+" to be removed", func() Result {
		tasks, err := c.Client.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", id))})
		if err != nil || len(tasks) == 0 {
			return Success()
		}
		return Continue("%d tasks left", len(tasks))
	}, c.Timeout(30*time.Second), 500*time.Millisecond)
	if err != nil {
		t.Logf("cleanup: %v", err)
	}
}

// UpdateService applies mutate to the current spec of a service and updates it (with
// QueryRegistry), retrying when another writer got in first.
func (c *Cluster) UpdateService(t testing.TB, id string, mutate func(*swarm.ServiceSpec)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for attempt := 0; ; attempt++ {
		svc, _, err := c.Client.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatalf("inspect service %s: %v", id, err)
		}
		spec := svc.Spec
		mutate(&spec)
		resp, err := c.Client.ServiceUpdate(ctx, id, svc.Version, spec, swarm.ServiceUpdateOptions{QueryRegistry: true})
		if err != nil && strings.Contains(err.Error(), "out of sequence") && attempt < 5 {
			continue
		}
		if err != nil {
			t.Fatalf("update service %s: %v", svc.Spec.Name, err)
		}
		for _, w := range resp.Warnings {
			t.Logf("update service %s: warning: %s", svc.Spec.Name, w)
		}
		return
	}
}

// Tasks lists a service's tasks, all states.
func (c *Cluster) Tasks(ctx context.Context, serviceID string) ([]swarm.Task, error) {
	return c.Client.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", serviceID))})
}

// RunningTasks returns a service's tasks that are running and meant to be.
func (c *Cluster) RunningTasks(t testing.TB, serviceID string) []swarm.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tasks, err := c.Tasks(ctx, serviceID)
	if err != nil {
		t.Fatalf("list tasks of %s: %v", serviceID, err)
	}
	return running(tasks)
}

func running(tasks []swarm.Task) []swarm.Task {
	var out []swarm.Task
	for _, tk := range tasks {
		if tk.Status.State == swarm.TaskStateRunning && tk.DesiredState == swarm.TaskStateRunning {
			out = append(out, tk)
		}
	}
	return out
}

// TaskSummary describes a service's tasks for timeout reports: counts by state, and the
// most recent task error with its node (why a task failed, was rejected or stays pending).
func (c *Cluster) TaskSummary(tasks []swarm.Task) string {
	counts := map[swarm.TaskState]int{}
	var last *swarm.Task
	for i := range tasks {
		tk := &tasks[i]
		counts[tk.Status.State]++
		if tk.Status.Err != "" && (last == nil || tk.Status.Timestamp.After(last.Status.Timestamp)) {
			last = tk
		}
	}
	states := make([]string, 0, len(counts))
	for s, n := range counts {
		states = append(states, fmt.Sprintf("%s=%d", s, n))
	}
	sort.Strings(states)
	out := strings.Join(states, " ")
	if out == "" {
		out = "no tasks"
	}
	if last != nil {
		where := "unassigned"
		if n, ok := c.NodeByID(last.NodeID); ok {
			where = n.String()
		} else if last.NodeID != "" {
			where = last.NodeID
		}
		out += fmt.Sprintf("; last task error (%s, %s): %s", where, last.Status.State, last.Status.Err)
	}
	return out
}

// RunningOnEveryNode is a Check: the global service has exactly one running task on each
// ready node of the cluster and no other running task.
// Not rollout.CheckGlobal: that accepts extra tasks and checks a whole group, this is exact per service.
func (c *Cluster) RunningOnEveryNode(serviceID string) Check {
	return func() Result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A lab node that rejoined has a new ID: compare with the nodes as they are now.
		if err := c.Refresh(ctx); err != nil {
			return Continue("%v", err)
		}
		tasks, err := c.Tasks(ctx, serviceID)
		if err != nil {
			return Continue("list tasks: %v", err)
		}
		per := map[string]int{}
		for _, tk := range running(tasks) {
			per[tk.NodeID]++
		}
		var missing []string
		nodes := c.NodeList()
		for _, n := range nodes {
			if per[n.ID] != 1 {
				missing = append(missing, fmt.Sprintf("%s has %d", n, per[n.ID]))
			}
		}
		if len(missing) == 0 && len(running(tasks)) == len(nodes) {
			return Success()
		}
		return Continue("want 1 running task per node, %s; tasks: %s", strings.Join(missing, ", "), c.TaskSummary(tasks))
	}
}

// RunningTasksCount is a Check: exactly n running tasks.
func (c *Cluster) RunningTasksCount(serviceID string, n int) Check {
	return func() Result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tasks, err := c.Tasks(ctx, serviceID)
		if err != nil {
			return Continue("list tasks: %v", err)
		}
		if got := len(running(tasks)); got == n {
			return Success()
		}
		return Continue("want %d running tasks; tasks: %s", n, c.TaskSummary(tasks))
	}
}

// UpdateCompleted is a Check: the service's last rolling update finished; a paused or
// rolled-back update is an error.
func (c *Cluster) UpdateCompleted(serviceID string) Check {
	return func() Result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		svc, _, err := c.Client.ServiceInspectWithRaw(ctx, serviceID, swarm.ServiceInspectOptions{})
		if err != nil {
			return Continue("inspect: %v", err)
		}
		us := svc.UpdateStatus
		if us == nil {
			return Continue("no update status yet")
		}
		switch us.State {
		case swarm.UpdateStateCompleted:
			return Success()
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackCompleted, swarm.UpdateStateRollbackPaused:
			tasks, _ := c.Tasks(ctx, serviceID)
			return Error(fmt.Errorf("update %s: %s; tasks: %s", us.State, us.Message, c.TaskSummary(tasks)))
		}
		tasks, _ := c.Tasks(ctx, serviceID)
		return Continue("update %s: %s; tasks: %s", us.State, us.Message, c.TaskSummary(tasks))
	}
}

// Endpoint is where one running task answers: its node and host-published URL.
type Endpoint struct {
	Node Node
	Task swarm.Task
	URL  string // http://addr:port
}

// Endpoints returns, for each running task of a service, the URL at which its container
// port target is published on its node (host mode).
// Not rollout.PublishedURL: tests need every task's URL and node, not the first one found.
func (c *Cluster) Endpoints(t testing.TB, serviceID string, target uint32) []Endpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("read nodes: %v", err)
	}
	var out []Endpoint
	for _, tk := range c.RunningTasks(t, serviceID) {
		n, ok := c.NodeByID(tk.NodeID)
		if !ok {
			continue
		}
		port := uint32(0)
		for _, p := range tk.Status.PortStatus.Ports {
			if p.TargetPort == target && p.PublishMode == swarm.PortConfigPublishModeHost {
				port = p.PublishedPort
			}
		}
		if port == 0 {
			t.Fatalf("task %s on %s publishes no host port for %d (port status %+v)", tk.ID, n, target, tk.Status.PortStatus.Ports)
		}
		out = append(out, Endpoint{Node: n, Task: tk, URL: "http://" + net.JoinHostPort(n.Addr, strconv.Itoa(int(port)))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node.Hostname < out[j].Node.Hostname })
	return out
}

// isNotFound recognises the engine's 404s (errdefs' NotFound interface) without another
// module dependency.
func isNotFound(err error) bool {
	var nf interface{ NotFound() }
	return errors.As(err, &nf)
}
