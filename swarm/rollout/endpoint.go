package rollout

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// PublishedURL finds where a service's target port is reachable: the address of a node
// that runs one of its tasks and the port that task published in host mode. That is how
// a client gets in without the routing mesh (no IPVS in the lab's kernel); on a cluster
// with ingress any node address works too, and this still returns a valid one.
func PublishedURL(ctx context.Context, api ClusterAPI, service string, targetPort uint32) (string, error) {
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		return "", fmt.Errorf("list tasks of %s: %w", service, err)
	}
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	addr := map[string]string{}
	for _, n := range nodes {
		addr[n.ID] = n.Status.Addr
	}
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning {
			continue
		}
		for _, p := range t.Status.PortStatus.Ports {
			if p.TargetPort == targetPort && p.PublishedPort != 0 && addr[t.NodeID] != "" {
				return fmt.Sprintf("http://%s:%d", addr[t.NodeID], p.PublishedPort), nil
			}
		}
	}
	return "", fmt.Errorf("service %s: no running task publishes port %d yet", service, targetPort)
}
