package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Node is one lab node as recorded in state.json.
type Node struct {
	// Name is the Swarm hostname of the node, equal to its container name.
	Name string `json:"name"`
	// Arch is the lab architecture name (amd64, 386, arm64, arm/v7).
	Arch string `json:"arch"`
	// Container is the host container running the node's engine.
	Container string `json:"container"`
	// Addr is the node's IP on the host's default bridge: its engine answers on
	// tcp://Addr:2375 and ports published in host mode are at http://Addr:<port>.
	Addr string `json:"addr"`
	// Role is "manager" or "worker".
	Role string `json:"role"`
	// Image is the node image the container runs.
	Image string `json:"image,omitempty"`
}

// State is $ARCHWAY_HOME/lab/state.json, read by the tests, the demo and the tasks.
type State struct {
	// DockerHost points a Docker client at the lab's manager (tcp://IP:2375).
	DockerHost string `json:"docker_host"`
	// Registry is the registry address that works on the host and on every node.
	Registry string `json:"registry"`
	// Nodes lists the manager first, then the workers in --arch order.
	Nodes []Node `json:"nodes"`
}

// Home returns ARCHWAY_HOME: $ARCHWAY_HOME, else ${XDG_CACHE_HOME:-$HOME/.cache}/archway.
func Home() (string, error) {
	if h := os.Getenv("ARCHWAY_HOME"); h != "" {
		return h, nil
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "archway"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("ARCHWAY_HOME unset and no home directory: %w", err)
	}
	return filepath.Join(home, ".cache", "archway"), nil
}

// StatePath is where state.json lives under home.
func StatePath(home string) string { return filepath.Join(home, "lab", "state.json") }

// EnvPath is the shell-sourceable env file under home.
func EnvPath(home string) string { return filepath.Join(home, "lab", "env") }

// ErrNoLab is returned by LoadState when no lab has been brought up.
var ErrNoLab = errors.New("no lab state (run `go run ./swarm/lab up` first)")

// LoadState reads state.json from home.
func LoadState(home string) (State, error) {
	var st State
	b, err := os.ReadFile(StatePath(home))
	if errors.Is(err, os.ErrNotExist) {
		return st, ErrNoLab
	}
	if err != nil {
		return st, fmt.Errorf("read lab state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("parse %s: %w", StatePath(home), err)
	}
	if st.DockerHost == "" || len(st.Nodes) == 0 {
		return st, fmt.Errorf("parse %s: docker_host or nodes missing", StatePath(home))
	}
	return st, nil
}

// Manager returns the manager node of the state.
func (s State) Manager() (Node, bool) {
	for _, n := range s.Nodes {
		if n.Role == "manager" {
			return n, true
		}
	}
	return Node{}, false
}

// EnvFile renders the env file: plain KEY=value lines that both `. env` in a shell and
// a simple line parser understand.
func (s State) EnvFile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "DOCKER_HOST=%s\n", s.DockerHost)
	fmt.Fprintf(&b, "ARCHWAY_REGISTRY=%s\n", s.Registry)
	fmt.Fprintf(&b, "export DOCKER_HOST ARCHWAY_REGISTRY\n")
	return b.String()
}

// SaveState writes state.json and env atomically (write to a temp file, rename), so a
// reader never sees half a file.
func SaveState(home string, s State) error {
	dir := filepath.Join(home, "lab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	if err := writeAtomic(StatePath(home), append(b, '\n')); err != nil {
		return err
	}
	return writeAtomic(EnvPath(home), []byte(s.EnvFile()))
}

// RemoveState deletes state.json and env (after `down`).
func RemoveState(home string) error {
	for _, p := range []string{StatePath(home), EnvPath(home)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove lab state: %w", err)
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ClusterHost is the Docker host the Swarm commands (demo, release) talk to:
// DOCKER_HOST when set — a real cluster's manager — else the lab's manager.
func ClusterHost() (string, error) {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h, nil
	}
	home, err := Home()
	if err != nil {
		return "", err
	}
	st, err := LoadState(home)
	if err != nil {
		return "", fmt.Errorf("no cluster: DOCKER_HOST is unset and %w", err)
	}
	return st.DockerHost, nil
}
