package swarmtest

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// ExecInTask runs cmd inside the running container of a service's task on the engine
// the cluster client talks to (the manager: the proxy's node), as `docker exec` does,
// and returns its exit code and combined output.
func (c *Cluster) ExecInTask(ctx context.Context, serviceID string, cmd ...string) (int, string, error) {
	tasks, err := c.Tasks(ctx, serviceID)
	if err != nil {
		return 0, "", err
	}
	id := ""
	for _, t := range running(tasks) {
		if t.Status.ContainerStatus != nil {
			id = t.Status.ContainerStatus.ContainerID
		}
	}
	if id == "" {
		return 0, "", fmt.Errorf("service %s: no running task with a container", serviceID)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ex, err := c.Client.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, "", fmt.Errorf("exec %v in %.12s: %w", cmd, id, err)
	}
	att, err := c.Client.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return 0, "", fmt.Errorf("exec %v in %.12s: attach: %w", cmd, id, err)
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return 0, out.String(), fmt.Errorf("exec %v in %.12s: read: %w", cmd, id, err)
	}
	insp, err := c.Client.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return 0, out.String(), fmt.Errorf("exec %v in %.12s: inspect: %w", cmd, id, err)
	}
	return insp.ExitCode, out.String(), nil
}
