package socketrelay

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/swarmprovider"
)

// TestDockerClient uses the Docker Go client the provider uses, on the relay's socket:
// version negotiation and the reads work, writes and other reads fail saying why.
func TestDockerClient(t *testing.T) {
	engine := newFakeEngine(t, cannedBodies)
	relay, logs := startRelay(t, engine.sock)
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+relay), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	svcs, err := cli.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil || len(svcs) != 1 || svcs[0].Spec.Name != "app_blue" {
		t.Fatalf("ServiceList: %v, %+v; want the one canned service", err, svcs)
	}
	if v := cli.ClientVersion(); v != "1.41" {
		t.Errorf("negotiated API version %q; want the engine's 1.41 (HEAD /_ping must pass)", v)
	}

	_, err = cli.ServiceCreate(ctx, swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "evil"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "alpine"}},
	}, swarm.ServiceCreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "not allowed") || !strings.Contains(err.Error(), "POST /v1.41/services/create") {
		t.Errorf("ServiceCreate: %v; want an error saying POST /v1.41/services/create is not allowed", err)
	}
	rc, err := cli.ContainerLogs(ctx, "abc", container.LogsOptions{ShowStdout: true})
	if err == nil {
		rc.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "not allowed") || !strings.Contains(err.Error(), "GET /v1.41/containers/abc/logs") {
		t.Errorf("ContainerLogs: %v; want an error saying GET /v1.41/containers/abc/logs is not allowed", err)
	}
	t.Logf("what the client reports: %v", err)

	msgs, errs := cli.Events(ctx, events.ListOptions{})
	select {
	case m := <-msgs:
		if m.Type != events.ServiceEventType || m.Actor.ID != "svc1" {
			t.Errorf("first event %+v; want the service event", m)
		}
	case err := <-errs:
		t.Fatalf("Events: %v", err)
	case <-ctx.Done():
		t.Fatal("no event through the relay")
	}

	for _, r := range engine.requests() {
		if strings.Contains(r, "/services/create") || strings.Contains(r, "/containers/") {
			t.Errorf("the engine saw %s", r)
		}
	}
	if n := len(linesWith(logs, "refused")); n != 2 {
		t.Errorf("%d refusals logged; want 2 (create, logs):\n%s", n, logs)
	}
}

// TestSwarmProviderThroughRelay runs the real Swarm provider, on a client made as
// archway-proxy makes it (DOCKER_HOST, version negotiation), against the relay: it must find its
// backend with no request refused, which is what makes the allow-list complete.
func TestSwarmProviderThroughRelay(t *testing.T) {
	svc := swarm.Service{ID: "svc1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{
		Name: "app_blue", Labels: map[string]string{swarmprovider.LabelColor: "blue", swarmprovider.LabelWeight: "100"}}}}
	task := swarm.Task{ID: "t1", ServiceID: "svc1", NodeID: "n1", DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{State: swarm.TaskStateRunning, PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{{
			Protocol: swarm.PortConfigProtocolTCP, TargetPort: 8080, PublishedPort: 8081, PublishMode: swarm.PortConfigPublishModeHost}}}}}
	node := swarm.Node{ID: "n1", Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.0.0.5"}}
	engine := newFakeEngine(t, map[string]string{
		"/services": mustJSON(t, []swarm.Service{svc}),
		"/tasks":    mustJSON(t, []swarm.Task{task}),
		"/nodes":    mustJSON(t, []swarm.Node{node}),
	})
	relay, logs := startRelay(t, engine.sock)
	t.Setenv("DOCKER_HOST", "unix://"+relay)
	for _, k := range []string{"DOCKER_API_VERSION", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"} {
		t.Setenv(k, "") // the runner's own Docker settings must not leak in
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The client swarmprovider.New makes, but negotiated before Run: on a fresh client,
	// Events reads the API version unlocked while ServiceList's negotiation writes it (a
	// race in github.com/docker/docker/client v28.5.2, events.go), which -race reports.
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cli.NegotiateAPIVersion(ctx)
	p := swarmprovider.NewWithAPI(cli, swarmprovider.Config{}, slog.New(slog.NewTextHandler(logs, nil)))
	got := make(chan []proxy.BackendSpec, 10)
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(specs []proxy.BackendSpec) error { got <- specs; return nil })
	}()
	select {
	case specs := <-got:
		if len(specs) != 1 || specs[0].Name != "BLUE" || specs[0].Weight != 100 ||
			len(specs[0].Members) != 1 || specs[0].Members[0].String() != "http://10.0.0.5:8081" {
			t.Errorf("backends %+v; want BLUE=100 [http://10.0.0.5:8081]", specs)
		}
	case <-ctx.Done():
		t.Fatalf("no backend set through the relay; log:\n%s", logs)
	}
	// Let the watcher subscribe to events too before looking at what the engine saw.
	deadline := time.Now().Add(5 * time.Second)
	for !slices.ContainsFunc(engine.requests(), func(r string) bool { return strings.HasPrefix(r, "GET /v1.41/events") }) {
		if time.Now().After(deadline) {
			t.Fatalf("the provider never subscribed to events; engine saw %q", engine.requests())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("provider Run: %v", err)
	}
	if l := linesWith(logs, "refused"); len(l) > 0 {
		t.Errorf("the relay refused calls the provider makes: %q", l)
	}
	t.Logf("the provider's calls: %q", engine.requests())
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
