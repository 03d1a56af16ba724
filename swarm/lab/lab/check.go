package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// CheckResult is one task of the check's global service.
type CheckResult struct {
	Node string
	Addr string
	// Expect is the GOARCH of the node's own engine; Got is what the task answered.
	Expect, Got string
	Body        string
	OK          bool
}

// CheckGlobal proves the lab schedules by platform: it creates a GLOBAL service from
// the multi-arch image (QueryRegistry, so the manager reads the index's platforms), with
// the port published in host mode, waits until every node runs its task, asks each task
// over http://<node addr>:<port>/ which GOARCH it runs and compares it with the node
// engine's ServerVersion().Arch. The service is removed at the end.
//
// The image must serve on :8080 at path either text with a goarch=<GOARCH> field (the
// lab's archprobe) or JSON with a "goarch" field (archway-app's /api/info).
func CheckGlobal(ctx context.Context, st State, img string, port int, path string, timeout time.Duration) ([]CheckResult, time.Duration, error) {
	mgr, err := client.NewClientWithOpts(client.WithHost(st.DockerHost), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, 0, fmt.Errorf("client for %s: %w", st.DockerHost, err)
	}
	defer mgr.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := "archway-lab-check"
	_ = mgr.ServiceRemove(ctx, name) // a leftover of an interrupted check
	start := time.Now()
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{LabelKey: "1"}},
		Mode:        swarm.ServiceMode{Global: &swarm.GlobalService{}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: img},
		},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{
			Protocol: swarm.PortConfigProtocolTCP, TargetPort: 8080, PublishedPort: uint32(port),
			// No IPVS in this kernel: no routing mesh, so each node publishes its own task.
			PublishMode: swarm.PortConfigPublishModeHost,
		}}},
	}
	resp, err := mgr.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{QueryRegistry: true})
	if err != nil {
		return nil, 0, fmt.Errorf("create check service: %w", err)
	}
	defer func() { _ = mgr.ServiceRemove(context.Background(), resp.ID) }()

	all, err := mgr.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("node list: %w", err)
	}
	// Every ready, active node must run one task: a node without one is a failure, not a
	// smaller success.
	var expected []swarm.Node
	for _, n := range all {
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive {
			expected = append(expected, n)
		}
	}
	f := filters.NewArgs(filters.Arg("service", resp.ID), filters.Arg("desired-state", "running"))
	var runningOn map[string]swarm.Task
	var tasks []swarm.Task
	for {
		tasks, err = mgr.TaskList(ctx, swarm.TaskListOptions{Filters: f})
		if err != nil {
			return nil, 0, fmt.Errorf("task list: %w", err)
		}
		runningOn = map[string]swarm.Task{}
		for _, t := range tasks {
			if t.Status.State == swarm.TaskStateRunning {
				runningOn[t.NodeID] = t
			}
		}
		missing := 0
		for _, n := range expected {
			if _, ok := runningOn[n.ID]; !ok {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		select {
		case <-ctx.Done():
			var states []string
			for _, t := range tasks {
				states = append(states, fmt.Sprintf("%s=%s %s", t.NodeID, t.Status.State, t.Status.Err))
			}
			return nil, time.Since(start), fmt.Errorf("%d of %d nodes run no task after %v: %s", missing, len(expected), timeout, strings.Join(states, "; "))
		case <-time.After(500 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	byName := map[string]Node{}
	for _, n := range st.Nodes {
		byName[n.Name] = n
	}
	var out []CheckResult
	failed := 0
	for _, sn := range expected {
		r := CheckResult{Node: sn.Description.Hostname}
		nd, ok := byName[r.Node]
		if !ok {
			r.Body = "node not in lab state"
			out = append(out, r)
			failed++
			continue
		}
		r.Addr = nd.Addr
		if c, err := engineClient(nd.Addr); err == nil {
			if v, err := c.ServerVersion(ctx); err == nil {
				r.Expect = v.Arch
			}
			c.Close()
		}
		body, err := waitHTTP(ctx, fmt.Sprintf("http://%s:%d%s", nd.Addr, port, path))
		if err != nil {
			r.Body = err.Error()
		} else {
			r.Body = strings.Join(strings.Fields(body), " ")
			r.Got = reportedGoarch(body)
		}
		r.OK = r.Got != "" && r.Got == r.Expect
		if !r.OK {
			failed++
		}
		out = append(out, r)
	}
	if failed > 0 {
		return out, elapsed, fmt.Errorf("%d of %d tasks did not report their node's architecture", failed, len(out))
	}
	return out, elapsed, nil
}

// reportedGoarch finds the GOARCH a task reports: a "goarch" JSON field or a goarch=
// word in text.
func reportedGoarch(body string) string {
	var doc struct {
		GOARCH string `json:"goarch"`
	}
	if json.Unmarshal([]byte(body), &doc) == nil && doc.GOARCH != "" {
		return doc.GOARCH
	}
	for _, kv := range strings.Fields(body) {
		if v, ok := strings.CutPrefix(kv, "goarch="); ok {
			return v
		}
	}
	return ""
}
