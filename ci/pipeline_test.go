package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/archwayhq/archway/internal/provision"
)

func writeState(t *testing.T, st provision.State) provision.Config {
	t.Helper()
	home := t.TempDir()
	st.Home = home
	cli := filepath.Join(home, "bin", "dagger")
	if err := os.MkdirAll(filepath.Dir(cli), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cli, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	st.CLI = cli
	p := &provision.Provisioner{Cfg: provision.Config{Home: home}, Out: os.Stderr}
	if err := p.WriteEnv(&st); err != nil {
		t.Fatal(err)
	}
	return provision.Config{Home: home}
}

func TestEngineEnvFromState(t *testing.T) {
	cfg := writeState(t, provision.State{DaggerPath: provision.PathBuilt, RunnerHost: provision.RunnerHost, Registry: provision.RegistryAddr})
	t.Setenv("DAGGER_SESSION_PORT", "")
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
	t.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", "")
	if _, err := engineEnv(Options{Provision: cfg}); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"); got != provision.RunnerHost {
		t.Fatalf("runner host %q", got)
	}
	if got := os.Getenv("_EXPERIMENTAL_DAGGER_CLI_BIN"); got != filepath.Join(cfg.Home, "bin", "dagger") {
		t.Fatalf("cli %q", got)
	}
}

func TestEngineEnvLeavesCallerSettingsAlone(t *testing.T) {
	cfg := writeState(t, provision.State{DaggerPath: provision.PathBuilt, RunnerHost: provision.RunnerHost, Registry: provision.RegistryAddr})
	// Under `dagger run` the session is the CLI's: nothing to set.
	t.Setenv("DAGGER_SESSION_PORT", "41234")
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
	if _, err := engineEnv(Options{Provision: cfg}); err != nil || os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST") != "" {
		t.Fatalf("dagger run: %v %q", err, os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"))
	}
	// A user's runner host wins over the state.
	t.Setenv("DAGGER_SESSION_PORT", "")
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "tcp://elsewhere:1234")
	if _, err := engineEnv(Options{Provision: cfg}); err != nil || os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST") != "tcp://elsewhere:1234" {
		t.Fatalf("user runner host: %v", err)
	}
	// No state and no engine named anywhere: say to run setup.
	t.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
	if _, err := engineEnv(Options{Provision: provision.Config{Home: t.TempDir()}}); err == nil {
		t.Fatal("missing state must fail")
	}
}
