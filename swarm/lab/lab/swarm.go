package lab

import (
	"context"
	"fmt"
	"net"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/archwayhq/archway/internal/platform"
)

// ArchLabel is the Swarm node label carrying the node's architecture (lab name), for
// placement constraints such as node.labels.archway.arch==arm64.
const ArchLabel = platform.NodeLabel

// ensureSwarm makes the manager engine the manager of a swarm and returns it.
func ensureSwarm(ctx context.Context, mgr *client.Client, addr string) (swarm.Swarm, error) {
	info, err := mgr.Info(ctx)
	if err != nil {
		return swarm.Swarm{}, fmt.Errorf("manager info: %w", err)
	}
	if !(info.Swarm.LocalNodeState == swarm.LocalNodeStateActive && info.Swarm.ControlAvailable) {
		if info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive {
			if err := mgr.SwarmLeave(ctx, true); err != nil {
				return swarm.Swarm{}, fmt.Errorf("manager leave stale swarm: %w", err)
			}
		}
		if _, err := mgr.SwarmInit(ctx, swarm.InitRequest{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: addr}); err != nil {
			return swarm.Swarm{}, fmt.Errorf("swarm init: %w", err)
		}
	}
	sw, err := mgr.SwarmInspect(ctx)
	if err != nil {
		return swarm.Swarm{}, fmt.Errorf("swarm inspect: %w", err)
	}
	return sw, nil
}

// ensureJoined makes the worker engine a member of the manager's swarm sw and returns
// its node ID. A worker's Info carries no cluster ID, so membership is checked on the
// manager: it must know the worker's node ID.
func ensureJoined(ctx context.Context, w, mgr *client.Client, sw swarm.Swarm, mgrAddr, addr string) (string, bool, error) {
	info, err := w.Info(ctx)
	if err != nil {
		return "", false, fmt.Errorf("worker info: %w", err)
	}
	if info.Swarm.LocalNodeState == swarm.LocalNodeStateActive && info.Swarm.NodeID != "" {
		if n, _, err := mgr.NodeInspectWithRaw(ctx, info.Swarm.NodeID); err == nil && n.Status.State != swarm.NodeStateDown {
			return info.Swarm.NodeID, false, nil
		}
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive {
		if err := w.SwarmLeave(ctx, true); err != nil {
			return "", false, fmt.Errorf("leave stale swarm: %w", err)
		}
	}
	err = w.SwarmJoin(ctx, swarm.JoinRequest{
		ListenAddr:    "0.0.0.0:2377",
		AdvertiseAddr: addr,
		RemoteAddrs:   []string{net.JoinHostPort(mgrAddr, "2377")},
		JoinToken:     sw.JoinTokens.Worker,
	})
	if err != nil {
		return "", false, fmt.Errorf("swarm join: %w", err)
	}
	info, err = w.Info(ctx)
	if err != nil {
		return "", false, fmt.Errorf("worker info: %w", err)
	}
	return info.Swarm.NodeID, true, nil
}

// labelNode sets the arch label on a swarm node if it differs.
func labelNode(ctx context.Context, mgr *client.Client, nodeID, arch string) error {
	n, _, err := mgr.NodeInspectWithRaw(ctx, nodeID)
	if err != nil {
		return fmt.Errorf("node inspect: %w", err)
	}
	if n.Spec.Labels[ArchLabel] == arch {
		return nil
	}
	if n.Spec.Labels == nil {
		n.Spec.Labels = map[string]string{}
	}
	n.Spec.Labels[ArchLabel] = arch
	if err := mgr.NodeUpdate(ctx, nodeID, n.Version, n.Spec); err != nil {
		return fmt.Errorf("label node %s: %w", nodeID, err)
	}
	return nil
}

// pruneNodes removes swarm nodes that are not in keep (by node ID): the remains of
// replaced or dropped lab workers.
func pruneNodes(ctx context.Context, mgr *client.Client, keep map[string]bool) (int, error) {
	nodes, err := mgr.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return 0, fmt.Errorf("node list: %w", err)
	}
	n := 0
	for _, nd := range nodes {
		if keep[nd.ID] || nd.ManagerStatus != nil {
			continue
		}
		if err := mgr.NodeRemove(ctx, nd.ID, swarm.NodeRemoveOptions{Force: true}); err != nil {
			return n, fmt.Errorf("remove stale node %s: %w", nd.Description.Hostname, err)
		}
		n++
	}
	return n, nil
}
