package provision

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// State is what setup leaves for the pipeline: $ARCHWAY_HOME/state.json.
type State struct {
	Home          string `json:"home"`
	DaggerPath    string `json:"dagger_path"`
	RunnerHost    string `json:"runner_host,omitempty"`
	CLI           string `json:"cli"`
	Registry      string `json:"registry"`
	GoBaseTarball string `json:"go_base_tarball,omitempty"`
	GoImage       string `json:"go_image,omitempty"`
}

func statePath(home string) string { return filepath.Join(home, "state.json") }

// LoadState reads the state written by the last setup.
func LoadState(home string) (*State, error) {
	b, err := os.ReadFile(statePath(home))
	if err != nil {
		return nil, fmt.Errorf("no provisioning state in %s (%w): run `go run ./ci setup` first", home, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w: rerun `go run ./ci setup`", statePath(home), err)
	}
	return &st, nil
}

// EnvScript renders the shell file sourced by users and tasks.
func EnvScript(st *State) string {
	var b strings.Builder
	b.WriteString("# written by `go run ./ci setup`; source it: . \"$ARCHWAY_HOME/env\"\n")
	fmt.Fprintf(&b, "export ARCHWAY_HOME=%q\n", st.Home)
	if st.RunnerHost != "" {
		fmt.Fprintf(&b, "export _EXPERIMENTAL_DAGGER_RUNNER_HOST=%q\n", st.RunnerHost)
	}
	fmt.Fprintf(&b, "export ARCHWAY_REGISTRY=%q\n", st.Registry)
	if st.GoBaseTarball != "" {
		fmt.Fprintf(&b, "export ARCHWAY_GO_BASE=%q\n", st.GoBaseTarball)
	}
	if st.GoImage != "" {
		fmt.Fprintf(&b, "export ARCHWAY_GO_IMAGE=%q\n", st.GoImage)
	}
	fmt.Fprintf(&b, "export DO_NOT_TRACK=1\n")
	if st.DaggerPath == PathBuilt {
		fmt.Fprintf(&b, "export PATH=%q:\"$PATH\"\n", filepath.Join(st.Home, "bin"))
	}
	return b.String()
}

// WriteEnv writes $ARCHWAY_HOME/env and state.json.
func (p *Provisioner) WriteEnv(st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(statePath(p.Cfg.Home), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.WriteFile(p.Cfg.EnvFile(), []byte(EnvScript(st)), 0o644); err != nil {
		return fmt.Errorf("write env: %w", err)
	}
	p.say("env", "wrote %s (dagger path: %s)", p.Cfg.EnvFile(), st.DaggerPath)
	return nil
}
