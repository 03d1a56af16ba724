package lab

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	home := t.TempDir()
	if _, err := LoadState(home); !errors.Is(err, ErrNoLab) {
		t.Fatalf("LoadState on empty home: %v, want ErrNoLab", err)
	}
	st := State{DockerHost: "tcp://172.17.0.2:2375", Registry: Registry, Nodes: []Node{
		{Name: ManagerName, Arch: "amd64", Container: ManagerName, Addr: "172.17.0.2", Role: "manager", Image: "archway/lab-node:amd64-x"},
		{Name: "archway-lab-armv7", Arch: "arm/v7", Container: "archway-lab-armv7", Addr: "172.17.0.6", Role: "worker"},
	}}
	if err := SaveState(home, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(home)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip: got %+v, want %+v", got, st)
	}
	m, ok := got.Manager()
	if !ok || m.Addr != "172.17.0.2" {
		t.Fatalf("Manager() = %+v, %v", m, ok)
	}
	raw, _ := os.ReadFile(StatePath(home))
	for _, key := range []string{`"docker_host"`, `"registry"`, `"nodes"`, `"name"`, `"arch"`, `"container"`, `"addr"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("state.json lacks contract key %s", key)
		}
	}
	env, _ := os.ReadFile(EnvPath(home))
	if !strings.Contains(string(env), "DOCKER_HOST=tcp://172.17.0.2:2375\n") {
		t.Fatalf("env file: %q", env)
	}
	if err := RemoveState(home); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(home); !errors.Is(err, ErrNoLab) {
		t.Fatalf("after RemoveState: %v", err)
	}
	if err := RemoveState(home); err != nil {
		t.Fatalf("RemoveState twice: %v", err)
	}
}

func TestLoadStateRejectsBadFiles(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(home+"/lab", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"{", `{"docker_host":"","nodes":[]}`, `{"docker_host":"tcp://x:2375"}`} {
		if err := os.WriteFile(StatePath(home), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadState(home); err == nil || errors.Is(err, ErrNoLab) {
			t.Errorf("LoadState(%q) = %v, want a parse error", body, err)
		}
	}
}

func TestHome(t *testing.T) {
	t.Setenv("ARCHWAY_HOME", "/x/ah")
	if h, _ := Home(); h != "/x/ah" {
		t.Fatalf("Home = %s", h)
	}
	t.Setenv("ARCHWAY_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if h, _ := Home(); h != "/x/cache/archway" {
		t.Fatalf("Home = %s", h)
	}
}
