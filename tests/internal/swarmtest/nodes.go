package swarmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// Environment variables that let the node-loss test run off the lab.
const (
	EnvStopNode   = "ARCHWAY_TEST_STOP_NODE"   // hostname of a worker the test may stop
	EnvStopCmd    = "ARCHWAY_TEST_STOP_CMD"    // shell command stopping its engine, e.g. ssh n3 systemctl stop docker
	EnvResumeCmd  = "ARCHWAY_TEST_RESUME_CMD"  // shell command starting it again
	EnvHostEngine = "ARCHWAY_TEST_HOST_DOCKER" // the engine running the lab's node containers (default: local socket)
)

// NodeStopper stops and resumes one node's engine.
type NodeStopper struct {
	Node   Node
	How    string
	stop   func(context.Context) error
	resume func(context.Context) error
}

// Stop freezes or stops the node's engine.
func (s NodeStopper) Stop(ctx context.Context) error { return s.stop(ctx) }

// Resume brings it back.
func (s NodeStopper) Resume(ctx context.Context) error { return s.resume(ctx) }

// StoppableNode picks a worker the test may stop: on the lab, a worker container paused on
// the host engine (preferring a native node, which recovers fastest); elsewhere only the
// node named by ARCHWAY_TEST_STOP_NODE with its stop/resume commands. Otherwise it skips the
// test saying why. The node is resumed in t.Cleanup whatever happens.
func (c *Cluster) StoppableNode(t testing.TB) NodeStopper {
	t.Helper()
	var s NodeStopper
	if name := os.Getenv(EnvStopNode); name != "" {
		stopCmd, resumeCmd := os.Getenv(EnvStopCmd), os.Getenv(EnvResumeCmd)
		if stopCmd == "" || resumeCmd == "" {
			t.Fatalf("%s=%s needs %s and %s (shell commands stopping and starting that node's engine)", EnvStopNode, name, EnvStopCmd, EnvResumeCmd)
		}
		for _, n := range c.NodeList() {
			if n.Hostname == name {
				s.Node = n
			}
		}
		if s.Node.ID == "" {
			t.Fatalf("%s=%s: no ready node with that hostname", EnvStopNode, name)
		}
		if s.Node.Manager {
			t.Fatalf("%s=%s is a manager: name a worker", EnvStopNode, name)
		}
		s.How = "commands from " + EnvStopCmd + "/" + EnvResumeCmd
		s.stop = func(ctx context.Context) error { return sh(ctx, stopCmd) }
		s.resume = func(ctx context.Context) error { return sh(ctx, resumeCmd) }
	} else {
		if c.Lab == nil {
			t.Skipf("node loss needs a node it may stop: on the lab it pauses a worker container; on %s set %s, %s and %s", c.Source, EnvStopNode, EnvStopCmd, EnvResumeCmd)
		}
		for _, n := range c.NodeList() {
			if n.Manager || n.Container == "" {
				continue
			}
			if s.Node.ID == "" || (s.Node.Emulated && !n.Emulated) {
				s.Node = n
			}
		}
		if s.Node.ID == "" {
			t.Skip("the lab has no worker node to stop")
		}
		opts := []client.Opt{client.WithAPIVersionNegotiation()}
		if h := os.Getenv(EnvHostEngine); h != "" {
			opts = append(opts, client.WithHost(h))
		} else {
			opts = append(opts, client.WithHost(client.DefaultDockerHost))
		}
		host, err := client.NewClientWithOpts(opts...)
		if err != nil {
			t.Fatalf("host engine client: %v", err)
		}
		t.Cleanup(func() { host.Close() })
		name := s.Node.Container
		s.How = "docker pause " + name + " on the host engine"
		s.stop = func(ctx context.Context) error { return host.ContainerPause(ctx, name) }
		s.resume = func(ctx context.Context) error { return host.ContainerUnpause(ctx, name) }
	}
	stopped := false
	stop := s.stop
	s.stop = func(ctx context.Context) error { stopped = true; return stop(ctx) }
	resume := s.resume
	s.resume = func(ctx context.Context) error { stopped = false; return resume(ctx) }
	t.Cleanup(func() {
		if stopped {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := resume(ctx); err != nil {
				t.Errorf("cleanup: resume node %s: %v", s.Node, err)
			}
		}
	})
	return s
}

// NodeDown is a WaitOn check: it succeeds once Swarm's managers mark n down (it missed
// its heartbeats).
func (c *Cluster) NodeDown(n Node) Check {
	return func() Result {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, _, err := c.Client.NodeInspectWithRaw(ctx, n.ID)
		switch {
		case err != nil:
			return Continue("inspect node %s: %v", n, err)
		case info.Status.State != swarm.NodeStateDown:
			return Continue("node %s is %s", n, info.Status.State)
		}
		return Success()
	}
}

func sh(ctx context.Context, cmd string) error {
	out, err := exec.CommandContext(ctx, "sh", "-c", cmd).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", cmd, err, firstLine(out))
	}
	return nil
}
