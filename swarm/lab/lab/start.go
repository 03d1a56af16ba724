package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"golang.org/x/sync/errgroup"
)

// startConfig is what every node's start shares.
type startConfig struct {
	privileged    bool          // run the node containers --privileged (detectPrivileged)
	registry      string        // the registry as the nodes reach it (bridge gateway:5000)
	engineTimeout time.Duration // bound on the wait for one node's engine
}

// startedNode is one node's outcome of startNodes: the node and its swarm node ID, or
// why it did not come up.
type startedNode struct {
	node Node
	id   string
	err  error
}

// managerSwarm is what the workers need from the manager's start: the swarm to join
// and where, or why there is none.
type managerSwarm struct {
	sw   swarm.Swarm
	addr string
	err  error
}

// swarmGate holds the workers until the manager's start has ended, whatever its
// outcome: open is called exactly once.
type swarmGate struct {
	ready chan struct{}
	ms    managerSwarm
}

func (g *swarmGate) open(ms managerSwarm) {
	g.ms = ms
	close(g.ready)
}

func (g *swarmGate) wait(ctx context.Context) (managerSwarm, error) {
	select {
	case <-g.ready:
		return g.ms, g.ms.err
	case <-ctx.Done():
		return managerSwarm{}, ctx.Err()
	}
}

// startNodes starts every node of specs at once (specs[0] is the manager): each
// container and its engine, the manager's swarm, and each worker joining it as soon as
// both its engine and the swarm are ready. A worker that fails is reported in its
// result and the others go on; the manager failing cancels the workers' starts and
// fails startNodes. It returns the results in specs' order and the manager's address.
func startNodes(ctx context.Context, host *client.Client, specs []nodeSpec, sc startConfig, p *progress) ([]startedNode, string, error) {
	results := make([]startedNode, len(specs))
	gate := &swarmGate{ready: make(chan struct{})}
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range specs {
		results[i].node = Node{Name: s.Name, Arch: s.Arch.Name, Container: s.Name, Role: s.Role, Image: s.Image}
		r := &results[i]
		if s.Role == "manager" {
			g.Go(func() error {
				ms, id := startManager(gctx, host, s, sc, p)
				r.node.Addr, r.id, r.err = ms.addr, id, ms.err
				gate.open(ms)
				return ms.err
			})
			continue
		}
		g.Go(func() error {
			r.node.Addr, r.id, r.err = startWorker(gctx, host, s, sc, gate, p)
			return nil // a worker's failure leaves it out of the lab, not the lab down
		})
	}
	if err := g.Wait(); err != nil {
		return nil, "", fmt.Errorf("manager: %w", err)
	}
	return results, gate.ms.addr, nil
}

// startEngine makes sure s's container runs and its engine answers, and returns the
// node's address and a client for its engine.
func startEngine(ctx context.Context, host *client.Client, s nodeSpec, sc startConfig, p *progress) (string, *client.Client, error) {
	addr, created, err := ensureNode(ctx, host, s, sc.privileged, sc.registry)
	if err != nil {
		return "", nil, err
	}
	if created {
		p.printf("%s: container started at %s, waiting for its engine", s.Name, addr)
	}
	c, err := waitEngine(ctx, host, s.Name, addr, sc.engineTimeout)
	if err != nil {
		return "", nil, err
	}
	return addr, c, nil
}

// startManager starts the manager node and makes sure its swarm exists; it returns
// the swarm (or why there is none) and the manager's swarm node ID.
func startManager(ctx context.Context, host *client.Client, s nodeSpec, sc startConfig, p *progress) (managerSwarm, string) {
	addr, c, err := startEngine(ctx, host, s, sc, p)
	if err != nil {
		return managerSwarm{err: err}, ""
	}
	defer c.Close()
	sw, err := ensureSwarm(ctx, c, addr)
	if err != nil {
		return managerSwarm{addr: addr, err: err}, ""
	}
	info, err := c.Info(ctx)
	if err != nil {
		return managerSwarm{addr: addr, err: fmt.Errorf("manager info: %w", err)}, ""
	}
	return managerSwarm{sw: sw, addr: addr}, info.Swarm.NodeID
}

// startWorker starts a worker node and joins it to the manager's swarm once there is
// one; it returns the node's address and swarm node ID, or why it did not come up.
func startWorker(ctx context.Context, host *client.Client, s nodeSpec, sc startConfig, gate *swarmGate, p *progress) (addr, id string, err error) {
	addr, c, err := startEngine(ctx, host, s, sc, p)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	ms, err := gate.wait(ctx)
	if err != nil {
		return addr, "", fmt.Errorf("no swarm to join: %w", err)
	}
	mc, err := engineClient(ms.addr)
	if err != nil {
		return addr, "", err
	}
	defer mc.Close()
	id, joined, err := ensureJoined(ctx, c, mc, ms.sw, ms.addr, addr)
	if err != nil {
		return addr, "", err
	}
	if joined {
		p.printf("%s: joined the swarm", s.Name)
	}
	return addr, id, nil
}
