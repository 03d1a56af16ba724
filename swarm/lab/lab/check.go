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
	start := time.Now()
	id, err := createCheckService(ctx, mgr, img, port)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = mgr.ServiceRemove(context.Background(), id) }()
	expected, err := activeNodes(ctx, mgr)
	if err != nil {
		return nil, 0, err
	}
	if err := waitTaskOnEach(ctx, mgr, id, expected, timeout); err != nil {
		return nil, time.Since(start), err
	}
	elapsed := time.Since(start)
	byName := map[string]Node{}
	for _, n := range st.Nodes {
		byName[n.Name] = n
	}
	var out []CheckResult
	failed := 0
	for _, sn := range expected {
		r := checkNode(ctx, sn.Description.Hostname, byName, port, path)
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

// checkServiceName is the global service CheckGlobal runs.
const checkServiceName = "archway-lab-check"

// createCheckService creates the global service of img, each task publishing port on
// its own node, after removing a leftover of an interrupted check; it returns the
// service's ID.
func createCheckService(ctx context.Context, mgr *client.Client, img string, port int) (string, error) {
	_ = mgr.ServiceRemove(ctx, checkServiceName)
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: checkServiceName, Labels: map[string]string{LabelKey: "1"}},
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
		return "", fmt.Errorf("create check service: %w", err)
	}
	return resp.ID, nil
}

// activeNodes are the ready, active nodes: each must run one task of a global service
// (a node without one is a failure, not a smaller success).
func activeNodes(ctx context.Context, mgr *client.Client) ([]swarm.Node, error) {
	all, err := mgr.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("node list: %w", err)
	}
	var out []swarm.Node
	for _, n := range all {
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive {
			out = append(out, n)
		}
	}
	return out, nil
}

// waitTaskOnEach polls until service id runs a task on every node of expected; when
// ctx ends first the error says how many nodes have none and every task's state.
func waitTaskOnEach(ctx context.Context, mgr *client.Client, id string, expected []swarm.Node, timeout time.Duration) error {
	f := filters.NewArgs(filters.Arg("service", id), filters.Arg("desired-state", "running"))
	for {
		tasks, err := mgr.TaskList(ctx, swarm.TaskListOptions{Filters: f})
		if err != nil {
			return fmt.Errorf("task list: %w", err)
		}
		runningOn := map[string]bool{}
		for _, t := range tasks {
			if t.Status.State == swarm.TaskStateRunning {
				runningOn[t.NodeID] = true
			}
		}
		missing := 0
		for _, n := range expected {
			if !runningOn[n.ID] {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var states []string
			for _, t := range tasks {
				states = append(states, fmt.Sprintf("%s=%s %s", t.NodeID, t.Status.State, t.Status.Err))
			}
			return fmt.Errorf("%d of %d nodes run no task after %v: %s", missing, len(expected), timeout, strings.Join(states, "; "))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// checkNode asks the task on node (by hostname) which architecture it runs and
// compares it with what the node's engine reports.
func checkNode(ctx context.Context, hostname string, byName map[string]Node, port int, path string) CheckResult {
	r := CheckResult{Node: hostname}
	nd, ok := byName[hostname]
	if !ok {
		r.Body = "node not in lab state"
		return r
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
	return r
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
