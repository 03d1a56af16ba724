package provision

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestInputHashChangesWithInputs(t *testing.T) {
	a, b := InputHash("go1.26.8"), InputHash("go1.26.9")
	if a == b || len(a) != 12 {
		t.Fatalf("hash must depend on the Go version: %s %s", a, b)
	}
	if InputHash("go1.26.8") != a {
		t.Fatal("hash not stable")
	}
	old := EngineRootfs.Packages
	EngineRootfs.Packages = append([]string{"curl"}, old...)
	defer func() { EngineRootfs.Packages = old }()
	if InputHash("go1.26.8") == a {
		t.Fatal("hash must depend on the engine rootfs packages")
	}
}

func TestWrapperGoMod(t *testing.T) {
	daggerMod := `module github.com/dagger/dagger

go 1.22.0

replace dagger.io/dagger => ./sdk/go

replace (
	github.com/moby/buildkit => github.com/dagger/buildkit v0.0.0-20240507174055-63352b0fb96b // fork
	github.com/foo/bar => ../bar
)
require github.com/x/y v1.0.0
`
	got := WrapperGoMod("1.22.0", daggerMod)
	for _, want := range []string{
		"require github.com/dagger/dagger v0.11.4",
		"replace dagger.io/dagger => dagger.io/dagger v0.11.4",
		"replace github.com/moby/buildkit => github.com/dagger/buildkit v0.0.0-20240507174055-63352b0fb96b\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	for _, bad := range []string{"./sdk/go", "../bar", "github.com/x/y"} {
		if strings.Contains(got, bad) {
			t.Errorf("must not contain %q:\n%s", bad, got)
		}
	}
}

func TestDecideEngine(t *testing.T) {
	for _, tc := range []struct {
		status, label string
		want          EngineAction
	}{
		{"", "", EngineCreate},
		{"running", "abc", EngineReuse},
		{"exited", "abc", EngineStart},
		{"running", "old", EngineRecreate},
		{"exited", "", EngineRecreate},
	} {
		if got := DecideEngine(tc.status, tc.label, "abc"); got != tc.want {
			t.Errorf("DecideEngine(%q,%q)=%v want %v", tc.status, tc.label, got, tc.want)
		}
	}
}

func TestEngineRunArgs(t *testing.T) {
	priv := strings.Join(EngineRunArgs("h", true, "5000"), " ")
	if !strings.Contains(priv, "--privileged") || strings.Contains(priv, "--cap-add") {
		t.Errorf("privileged args: %s", priv)
	}
	np := strings.Join(EngineRunArgs("h", false, "5000"), " ")
	for _, want := range []string{"--name archway-buildkit", "--cap-drop SYS_RESOURCE", "systempaths=unconfined", "archway-buildkit-state:/var/lib/dagger", "/usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro", "ARCHWAY_REGISTRY_FORWARD=5000", "archway.recipe=h"} {
		if !strings.Contains(np, want) {
			t.Errorf("non-privileged args lack %q: %s", want, np)
		}
	}
	if strings.Contains(np, "--privileged") || strings.Contains(np, "dagger-engine-") {
		t.Errorf("bad args: %s", np)
	}
}

func newTestProvisioner(t *testing.T, f *fakeRunner, env map[string]string) *Provisioner {
	t.Helper()
	env["HOME"] = t.TempDir()
	cfg, err := ConfigFromEnv(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	return &Provisioner{Cfg: cfg, Run: f, Out: io.Discard, Getenv: envMap(env)}
}

func TestPlanDaggerPaths(t *testing.T) {
	ctx := context.Background()

	// A runner host from the environment (not ours) wins and nothing is built.
	f := newFake()
	f.paths["dagger"] = "/usr/bin/dagger"
	p := newTestProvisioner(t, f, map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://engine:1234"})
	plan, err := p.PlanDagger(ctx)
	if err != nil || plan.Path != PathEnv || plan.Build || plan.CLI != "/usr/bin/dagger" {
		t.Fatalf("env path: %+v %v", plan, err)
	}

	// A public CLI of the pinned version whose engine answers is used.
	f = newFake()
	f.paths["dagger"] = "/usr/local/bin/dagger"
	f.on("/usr/local/bin/dagger version", "dagger v0.11.4 (registry.dagger.io/engine) linux/amd64", nil)
	f.on("/usr/local/bin/dagger query", `{"version":"v0.11.4"}`, nil)
	p = newTestProvisioner(t, f, map[string]string{})
	if plan, err = p.PlanDagger(ctx); err != nil || plan.Path != PathPublic || plan.Build {
		t.Fatalf("public path: %+v %v", plan, err)
	}

	// Wrong version, or an engine that does not answer: fall back to building.
	for _, fail := range []func(*fakeRunner){
		func(f *fakeRunner) { f.on("/usr/local/bin/dagger version", "dagger v0.18.0", nil) },
		func(f *fakeRunner) {
			f.on("/usr/local/bin/dagger version", "dagger v0.11.4", nil)
			f.on("/usr/local/bin/dagger query", "", errors.New("pull access denied"))
		},
	} {
		f = newFake()
		f.paths["dagger"] = "/usr/local/bin/dagger"
		fail(f)
		f.on("go env GOVERSION", "go1.26.8", nil)
		p = newTestProvisioner(t, f, map[string]string{})
		if plan, err = p.PlanDagger(ctx); err != nil || plan.Path != PathBuilt || !plan.Build || plan.Hash != InputHash("go1.26.8") || plan.RunnerHost != RunnerHost {
			t.Fatalf("fallback: %+v %v", plan, err)
		}
	}

	// Our own runner host in the environment (sourced env file) keeps provisioning.
	f = newFake()
	f.on("go env GOVERSION", "go1.26.8", nil)
	p = newTestProvisioner(t, f, map[string]string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST": RunnerHost})
	if plan, err = p.PlanDagger(ctx); err != nil || plan.Path != PathBuilt {
		t.Fatalf("own runner host: %+v %v", plan, err)
	}
}
