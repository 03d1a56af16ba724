package provision

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
		"require github.com/dagger/dagger v0.19.10",
		"replace dagger.io/dagger => dagger.io/dagger v0.19.10",
		"replace github.com/dagger/dagger/engine/distconsts => ./distconsts\n",
		"replace go.opentelemetry.io/otel/log => go.opentelemetry.io/otel/log v0.14.0\n",
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
	for _, want := range []string{"--name archway-buildkit", "--cap-drop SYS_RESOURCE", "systempaths=unconfined", "archway-dagger-v0.19-state:/var/lib/dagger", "/usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro", "ARCHWAY_REGISTRY_FORWARD=5000", "archway.recipe=h"} {
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

	// A user's CLI at v0.19.0 or newer whose engine answers is used.
	for _, v := range []string{"v0.19.0", "v0.19.10", "v0.21.8", "v1.0.0-beta.2"} {
		f = newFake()
		f.paths["dagger"] = "/usr/local/bin/dagger"
		f.on("/usr/local/bin/dagger version", "dagger "+v+" (registry.dagger.io/engine) linux/amd64", nil)
		f.on("/usr/local/bin/dagger query", `{"version":"`+v+`"}`, nil)
		p = newTestProvisioner(t, f, map[string]string{})
		if plan, err = p.PlanDagger(ctx); err != nil || plan.Path != PathPublic || plan.Build {
			t.Fatalf("your CLI %s: %+v %v", v, plan, err)
		}
	}

	// Too old, or an engine that does not answer: build ours, saying why in one line.
	for _, c := range []struct {
		setup func(*fakeRunner)
		said  string
	}{
		{func(f *fakeRunner) { f.on("/usr/local/bin/dagger version", "dagger v0.18.9", nil) }, "is v0.18.9, older than v0.19.0"},
		{func(f *fakeRunner) { f.on("/usr/local/bin/dagger version", "dagger v0.11.4", nil) }, "is v0.11.4, older than v0.19.0"},
		{func(f *fakeRunner) {
			f.on("/usr/local/bin/dagger version", "dagger v0.21.8", nil)
			f.on("/usr/local/bin/dagger query", "", errors.New("pull access denied"))
		}, "v0.21.8 found but its engine does not answer"},
	} {
		fail := c.setup
		f = newFake()
		f.paths["dagger"] = "/usr/local/bin/dagger"
		fail(f)
		f.on("go env GOVERSION", "go1.26.8", nil)
		p = newTestProvisioner(t, f, map[string]string{})
		p.Out = &strings.Builder{}
		if plan, err = p.PlanDagger(ctx); err != nil || plan.Path != PathBuilt || !plan.Build || plan.Hash != InputHash("go1.26.8") || plan.RunnerHost != RunnerHost {
			t.Fatalf("fallback: %+v %v", plan, err)
		}
		if !strings.Contains(p.Out.(*strings.Builder).String(), c.said) {
			t.Errorf("setup said %q; want it to say %q", p.Out.(*strings.Builder).String(), c.said)
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

// TestDistconstsStandIn: the stand-in module is valid Go holding every constant of
// dagger's engine/distconsts that the engine imports, with the v0.19.10 values.
func TestDistconstsStandIn(t *testing.T) {
	src := distconstsSource()
	f, err := parser.ParseFile(token.NewFileSet(), "consts.go", src, 0)
	if err != nil {
		t.Fatalf("generated source does not parse: %v\n%s", err, src)
	}
	if f.Name.Name != "distconsts" || len(f.Imports) != 0 {
		t.Errorf("package %s with %d imports; want distconsts, none", f.Name.Name, len(f.Imports))
	}
	got := map[string]string{}
	for _, d := range f.Decls {
		for _, spec := range d.(*ast.GenDecl).Specs {
			vs := spec.(*ast.ValueSpec)
			v, _ := strconv.Unquote(vs.Values[0].(*ast.BasicLit).Value)
			got[vs.Names[0].Name] = v
		}
	}
	for name, want := range map[string]string{
		"DefaultEngineSockAddr": "unix:///run/dagger/engine.sock", "DaggerInitPath": "/usr/local/bin/dagger-init",
		"RuncPath": "/usr/local/bin/runc", "EngineDefaultStateDir": "/var/lib/dagger",
		"EngineContainerBuiltinContentDir": "/usr/local/share/dagger/content", "EngineCustomCACertsDir": "/usr/local/share/ca-certificates",
		"AlpineImage": "alpine:3.22.1", "GolangImage": "golang:1.25.5-alpine", "BusyboxImage": "busybox:1.37.0",
		"EngineContainerName": "dagger-engine.dev", "OCIVersionAnnotation": "org.opencontainers.image.version",
		"GoSDKManifestDigestEnvName": "DAGGER_GO_SDK_MANIFEST_DIGEST", "PythonSDKManifestDigestEnvName": "DAGGER_PYTHON_SDK_MANIFEST_DIGEST",
		"TypescriptSDKManifestDigestEnvName": "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST",
		"AlpineVersion":                      "3.22.1", "GolangVersion": "1.25.5", "BusyboxVersion": "1.37.0",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	if len(got) != len(distconsts) {
		t.Errorf("%d constants generated, %d listed", len(got), len(distconsts))
	}
	// The engine finds its socket and init where the image puts them.
	files := map[string]bool{}
	for _, ef := range engineFiles("/bin") {
		files["/"+ef.path] = true
	}
	for _, p := range []string{got["DaggerInitPath"], got["RuncPath"], got["EngineDefaultStateDir"], got["EngineContainerBuiltinContentDir"]} {
		if !files[p] {
			t.Errorf("distconsts path %s is not in the engine image", p)
		}
	}
	if "unix://"+engineSocket != got["DefaultEngineSockAddr"] {
		t.Errorf("setup waits for %s, the engine listens on %s", engineSocket, got["DefaultEngineSockAddr"])
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v, min string
		want   bool
	}{
		{"v0.19.0", "v0.19.0", true}, {"v0.19.10", "v0.19.0", true}, {"v0.21.8", "v0.19.0", true},
		{"v1.0.0-beta.2", "v0.19.0", true}, {"v0.18.99", "v0.19.0", false}, {"v0.11.4", "v0.19.0", false},
		{"v0.19.0-rc1", "v0.19.0", true},
	} {
		if got := VersionAtLeast(c.v, c.min); got != c.want {
			t.Errorf("VersionAtLeast(%s, %s) = %v", c.v, c.min, got)
		}
	}
}

// TestBuildDaggerBinaries: the wrapper module takes dagger's go directive and both
// go.sum files, the build gets every package, and a finished build is not redone; a
// failed build leaves no .done behind and says which step failed.
func TestBuildDaggerBinaries(t *testing.T) {
	ctx := context.Background()
	modDir := func(gomod, gosum string) string {
		d := t.TempDir()
		for name, body := range map[string]string{"go.mod": gomod, "go.sum": gosum} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	daggerMod := modDir("module github.com/dagger/dagger\n\ngo 1.24.3\n", "dagger.sum h1:a\n")
	sdkMod := modDir("module dagger.io/dagger\n\ngo 1.23\n", "sdk.sum h1:b\n")
	f := newFake()
	p := newTestProvisioner(t, f, map[string]string{})
	plan := DaggerPlan{Build: true, Hash: "abc123"}
	wrapper := filepath.Join(p.Cfg.daggerDir(plan.Hash), "wrapper")
	download := "go -C " + wrapper + " mod download -json "
	f.on(download+"github.com/dagger/dagger@"+DaggerVersion, `{"Dir":"`+daggerMod+`"}`, nil)
	f.on(download+"dagger.io/dagger@"+DaggerVersion, `{"Dir":"`+sdkMod+`"}`, nil)
	f.on("go -C "+wrapper+" build", "", errors.New("exit status 1: link failed"))

	if _, err := p.BuildDaggerBinaries(ctx, plan); err == nil || !strings.Contains(err.Error(), "build dagger "+DaggerVersion+": exit status 1: link failed") {
		t.Fatalf("failed build: %v", err)
	}
	out := filepath.Join(p.Cfg.daggerDir(plan.Hash), "out")
	if _, err := os.Stat(filepath.Join(out, ".done")); err == nil {
		t.Fatal(".done written after a failed build")
	}
	gomod, _ := os.ReadFile(filepath.Join(wrapper, "go.mod"))
	gosum, _ := os.ReadFile(filepath.Join(wrapper, "go.sum"))
	if !strings.Contains(string(gomod), "\ngo 1.24.3\n") || string(gosum) != "dagger.sum h1:a\nsdk.sum h1:b\n" {
		t.Errorf("wrapper go.mod %q, go.sum %q", gomod, gosum)
	}
	if _, err := os.Stat(filepath.Join(wrapper, "distconsts", "consts.go")); err != nil {
		t.Errorf("distconsts stand-in: %v", err)
	}

	f.on("go -C "+wrapper+" build", "", nil)
	got, err := p.BuildDaggerBinaries(ctx, plan)
	if err != nil || got != out {
		t.Fatalf("build = %q, %v; want %q", got, err, out)
	}
	build := f.calls[len(f.calls)-1]
	for _, pkg := range daggerBuild.Packages {
		if !strings.Contains(build, " "+pkg) {
			t.Errorf("build %q lacks package %s", build, pkg)
		}
	}
	n := len(f.calls)
	if _, err := p.BuildDaggerBinaries(ctx, plan); err != nil || len(f.calls) != n {
		t.Errorf("second build: %v, %d new commands; want the cached binaries", err, len(f.calls)-n)
	}

	// The module proxy unreachable: the error names the step and the module.
	f2 := newFake()
	p2 := newTestProvisioner(t, f2, map[string]string{})
	f2.on("go -C", "", errors.New("dial tcp: no route"))
	if _, err := p2.BuildDaggerBinaries(ctx, plan); err == nil || !strings.Contains(err.Error(), "wrapper module: go mod download github.com/dagger/dagger@"+DaggerVersion) {
		t.Errorf("no module proxy: %v", err)
	}
}
