package provision

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureDockerReusesAnsweringDaemon(t *testing.T) {
	f := newFake()
	f.paths["docker"] = "/usr/bin/docker"
	f.on("docker version", "20.10.24", nil)
	var out strings.Builder
	p := newTestProvisioner(t, f, map[string]string{})
	p.Out = &out
	if err := p.EnsureDocker(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "reusing daemon at unix:///var/run/docker.sock (20.10.24)") {
		t.Fatalf("progress line: %q", out.String())
	}
	if f.called("apt-get") || f.called("dpkg-query") {
		t.Fatalf("must not install anything: %v", f.calls)
	}
}

func TestEnsureDockerHostDown(t *testing.T) {
	f := newFake()
	f.paths["docker"] = "/usr/bin/docker"
	f.on("docker version", "", errors.New("Cannot connect"))
	p := newTestProvisioner(t, f, map[string]string{"DOCKER_HOST": "tcp://10.0.0.1:2375"})
	err := p.EnsureDocker(context.Background())
	if err == nil || !strings.Contains(err.Error(), "DOCKER_HOST=tcp://10.0.0.1:2375") {
		t.Fatalf("err %v", err)
	}
	if f.called("apt-get") {
		t.Fatal("a user-chosen DOCKER_HOST must not trigger an install")
	}
}

func TestEnsurePackagesUpdatesOnceOnFailure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("installs are only attempted as root")
	}
	f := newFake()
	f.paths["apt-get"] = "/usr/bin/apt-get"
	f.on("dpkg-query -W -f=${Status} docker.io", "", errors.New("no packages found"))
	f.on("dpkg-query -W -f=${Status} curl", "install ok installed", nil)
	f.on("apt-get install", "", errors.New("E: Unable to locate package docker.io"))
	f.on("apt-get update", "", nil)
	p := newTestProvisioner(t, f, map[string]string{})
	err := p.EnsurePackages(context.Background(), "t", "docker.io", "curl")
	if err == nil || !strings.Contains(err.Error(), "apt-get install docker.io") {
		t.Fatalf("err %v", err)
	}
	var updates, installs int
	for _, c := range f.calls {
		if c == "apt-get update" {
			updates++
		}
		if strings.HasPrefix(c, "apt-get install") {
			installs++
			if strings.Contains(c, "curl") {
				t.Errorf("installed package must not be reinstalled: %s", c)
			}
		}
	}
	if updates != 1 || installs != 2 {
		t.Fatalf("updates=%d installs=%d calls=%v", updates, installs, f.calls)
	}
}

func TestBinfmtStatus(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("qemu-aarch64", "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n")
	write("qemu-arm", "disabled\ninterpreter x\nflags: PF\n")
	write("qemu-ppc64le", "enabled\ninterpreter x\nflags: P\n")
	ok, missing := binfmtStatus(dir)
	if strings.Join(ok, ",") != "arm64" {
		t.Fatalf("ok=%v", ok)
	}
	if strings.Join(missing, ",") != "qemu-arm,qemu-ppc64le,qemu-s390x,qemu-riscv64" {
		t.Fatalf("missing=%v", missing)
	}
}

func TestEnvScript(t *testing.T) {
	s := EnvScript(&State{Home: "/c/archway", DaggerPath: PathBuilt, RunnerHost: RunnerHost, Registry: RegistryAddr, GoBaseTarball: "/c/archway/base/b.tar"})
	for _, want := range []string{
		`export _EXPERIMENTAL_DAGGER_RUNNER_HOST="docker-container://archway-buildkit"`,
		`export ARCHWAY_REGISTRY="127.0.0.1:5000"`,
		`export PATH="/c/archway/bin":"$PATH"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("env lacks %q:\n%s", want, s)
		}
	}
	pub := EnvScript(&State{Home: "/h", DaggerPath: PathPublic, Registry: RegistryAddr})
	if strings.Contains(pub, "RUNNER_HOST") || strings.Contains(pub, "PATH=") {
		t.Errorf("public path must leave the CLI defaults alone:\n%s", pub)
	}
}
