package lab

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// NodeStatus is one row of `lab status`.
type NodeStatus struct {
	Node
	// EngineArch is ServerVersion().Arch of the node's own engine (GOARCH of its dockerd);
	// KernelArch is what the engine reports as its machine (uname -m, the Swarm platform).
	EngineArch, KernelArch string
	// State and Availability come from the Swarm manager (ready/down, active/drain).
	State, Availability string
	// Tasks counts the running tasks on the node.
	Tasks int
	// Err says why a field could not be read.
	Err string
}

// CollectStatus asks the manager for nodes and tasks and each node's engine for its
// architecture. Unreachable pieces are reported in the rows, not as an error, so
// `status` shows a half-broken lab; an error means the manager itself cannot be asked.
func CollectStatus(ctx context.Context, st State) ([]NodeStatus, error) {
	mgr, err := client.NewClientWithOpts(client.WithHost(st.DockerHost), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", st.DockerHost, err)
	}
	defer mgr.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	nodes, err := mgr.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("manager %s: %w", st.DockerHost, err)
	}
	tasks, err := mgr.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, fmt.Errorf("manager %s: tasks: %w", st.DockerHost, err)
	}
	running := map[string]int{}
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning {
			running[t.NodeID]++
		}
	}
	byHost := map[string]swarm.Node{}
	for _, n := range nodes {
		// A replaced node leaves a down entry with the same hostname; prefer a ready one.
		if old, ok := byHost[n.Description.Hostname]; ok && old.Status.State == swarm.NodeStateReady {
			continue
		}
		byHost[n.Description.Hostname] = n
	}
	rows := make([]NodeStatus, len(st.Nodes))
	var wg sync.WaitGroup
	for i, nd := range st.Nodes {
		rows[i] = NodeStatus{Node: nd, State: "absent", Availability: "-", EngineArch: "-", KernelArch: "-"}
		if sn, ok := byHost[nd.Name]; ok {
			rows[i].State = string(sn.Status.State)
			rows[i].Availability = string(sn.Spec.Availability)
			rows[i].Tasks = running[sn.ID]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &rows[i]
			c, err := engineClient(nd.Addr)
			if err != nil {
				r.Err = err.Error()
				return
			}
			defer c.Close()
			v, err := c.ServerVersion(ctx)
			if err != nil {
				r.Err = "engine: " + err.Error()
				return
			}
			r.EngineArch = v.Arch
			if info, err := c.Info(ctx); err == nil {
				r.KernelArch = info.Architecture
			}
		}()
	}
	wg.Wait()
	return rows, nil
}

// RenderStatus prints the status table.
func RenderStatus(w io.Writer, rows []NodeStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tARCH\tENGINE ARCH\tMACHINE\tADDRESS\tSTATE\tAVAILABILITY\tTASKS\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.Role, r.Arch, r.EngineArch, r.KernelArch,
			r.Addr, r.State, r.Availability, r.Tasks, strings.TrimSpace(r.Err))
	}
	return tw.Flush()
}

// ClusterState describes a Swarm that the lab did not create (a real cluster behind
// dockerHost) in the lab's terms, so `status` works there too: node addresses are the
// Swarm advertise addresses.
func ClusterState(ctx context.Context, dockerHost string) (State, error) {
	c, err := client.NewClientWithOpts(client.WithHost(dockerHost), client.WithAPIVersionNegotiation())
	if err != nil {
		return State{}, fmt.Errorf("client for %s: %w", dockerHost, err)
	}
	defer c.Close()
	nodes, err := c.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return State{}, fmt.Errorf("%s: node list: %w", dockerHost, err)
	}
	st := State{DockerHost: dockerHost, Registry: Registry}
	for _, n := range nodes {
		role := "worker"
		if n.ManagerStatus != nil {
			role = "manager"
		}
		arch := n.Spec.Labels[ArchLabel]
		if arch == "" {
			arch = n.Description.Platform.Architecture
		}
		st.Nodes = append(st.Nodes, Node{Name: n.Description.Hostname, Arch: arch, Addr: n.Status.Addr, Role: role})
	}
	return st, nil
}
