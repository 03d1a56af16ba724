package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// runRelayCheck is `archway-proxy relay-check`: from inside the proxy's container
// (docker exec), it shows what the proxy can and cannot do to the cluster through the
// Docker endpoint it was given (DOCKER_HOST, the relay's socket in the stack): the
// reads the Swarm provider needs must work, a service create, a container list and a
// container's logs must be refused (403). One line per call; exit 0 when every answer
// is the expected one, 1 otherwise.
func runRelayCheck(ctx context.Context, environ []string, stdout, stderr io.Writer) int {
	host := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "DOCKER_HOST="); ok {
			host = v
		}
	}
	if host == "" {
		host = client.DefaultDockerHost
	}
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		commandExitLine(stderr, "archway-proxy relay-check", "DOCKER_HOST=%q: %v", host, err)
		return 2
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fmt.Fprintf(stdout, "docker endpoint %s\n", host)
	self, _ := os.Hostname() // a container's hostname is its short ID
	checks := []struct {
		call    string
		allowed bool
		do      func() error
	}{
		{"GET /services (the provider's read)", true, func() error { _, err := cli.ServiceList(ctx, swarm.ServiceListOptions{}); return err }},
		{"GET /tasks (the provider's read)", true, func() error { _, err := cli.TaskList(ctx, swarm.TaskListOptions{}); return err }},
		{"GET /nodes (the provider's read)", true, func() error { _, err := cli.NodeList(ctx, swarm.NodeListOptions{}); return err }},
		{"POST /services/create", false, func() error {
			resp, err := cli.ServiceCreate(ctx, swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "archway-relay-check"},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "archway-relay-check:none"}}}, swarm.ServiceCreateOptions{})
			if err == nil {
				_ = cli.ServiceRemove(ctx, resp.ID) // it must not stay
			}
			return err
		}},
		{"GET /containers/json", false, func() error { _, err := cli.ContainerList(ctx, container.ListOptions{}); return err }},
		{"GET /containers/" + self + "/logs", false, func() error {
			rc, err := cli.ContainerLogs(ctx, self, container.LogsOptions{ShowStdout: true})
			if err == nil {
				rc.Close()
			}
			return err
		}},
	}
	ok := true
	for _, c := range checks {
		err := c.do()
		switch {
		case c.allowed && err == nil:
			fmt.Fprintf(stdout, "allowed  %s\n", c.call)
		case c.allowed:
			ok = false
			fmt.Fprintf(stdout, "FAILED   %s: %v (the Swarm provider needs it)\n", c.call, err)
		case cerrdefs.IsPermissionDenied(err):
			fmt.Fprintf(stdout, "refused  %s: 403\n", c.call)
		case err == nil:
			ok = false
			fmt.Fprintf(stdout, "NOT REFUSED %s: the proxy can do this to the cluster\n", c.call)
		default:
			ok = false
			fmt.Fprintf(stdout, "UNCLEAR  %s: %v (want 403)\n", c.call, err)
		}
	}
	if !ok {
		return 1
	}
	return 0
}
