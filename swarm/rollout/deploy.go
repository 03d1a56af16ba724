package rollout

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// StackOptions names what `docker stack deploy` needs.
type StackOptions struct {
	// Files are the stack files, merged in order: swarm/stack.yml, and
	// swarm/stack.admin.yml to publish the admin API.
	Files      []string
	Name       string // stack name, e.g. archway
	DockerHost string // the manager; empty means the docker CLI's own default
	// Env is passed to the stack file's ${VAR} substitution (REGISTRY, TAG, GROUP, …).
	Env map[string]string
}

// DeployStack runs `docker stack deploy`. The CLI is used rather than re-implementing
// Compose parsing: it is the command users run themselves, and the stack file stays the
// single description of the deployment. Images are resolved against the registry so that
// every node pulls the variant of the index that matches its platform.
func DeployStack(ctx context.Context, o StackOptions) (string, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return "", fmt.Errorf("docker CLI not found on PATH (install docker.io, or run `go tool task setup`): %w", err)
	}
	// --with-registry-auth: a private registry's credentials (docker login on this
	// machine) go to the nodes that pull; the local registry needs none.
	args := []string{"stack", "deploy", "--prune", "--resolve-image", "always", "--with-registry-auth"}
	for _, f := range o.Files {
		args = append(args, "-c", f)
	}
	cmd := exec.CommandContext(ctx, "docker", append(args, o.Name)...)
	cmd.Env = os.Environ()
	if o.DockerHost != "" {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+o.DockerHost)
	}
	for k, v := range o.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker stack deploy %s: %w: %s", o.Name, err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
