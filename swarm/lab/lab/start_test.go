package lab

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// TestStartNodesManagerFailureCancelsWorkers: when the manager cannot start, startNodes
// fails at once with the manager's error, without waiting for the workers' starts (an
// emulated engine may take minutes to answer).
func TestStartNodesManagerFailureCancelsWorkers(t *testing.T) {
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/containers/"+ManagerName+"/") {
			http.Error(w, `{"message":"manager inspect refused"}`, http.StatusInternalServerError)
			return
		}
		<-r.Context().Done() // a worker's engine that never answers
	}))
	t.Cleanup(engine.Close)
	host, err := client.NewClientWithOpts(client.WithHost("tcp://"+strings.TrimPrefix(engine.URL, "http://")), client.WithVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	arm64, err := ParseArch("arm64")
	if err != nil {
		t.Fatal(err)
	}
	specs := []nodeSpec{
		{Name: ManagerName, Role: "manager"},
		{Name: NodeName(arm64), Arch: arm64, Role: "worker"},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err = startNodes(ctx, host, specs, startConfig{engineTimeout: time.Minute}, &progress{})
	if err == nil || !strings.Contains(err.Error(), "manager") || !strings.Contains(err.Error(), "manager inspect refused") {
		t.Fatalf("startNodes error = %v; want the manager's inspect failure", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("startNodes returned only after its context ended (%v): the worker was not cancelled", time.Since(start))
	}
}

func TestSwarmGate(t *testing.T) {
	g := &swarmGate{ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := g.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on a closed gate with a cancelled context = %v; want context.Canceled", err)
	}
	boom := errors.New("no swarm")
	g.open(managerSwarm{addr: "10.0.0.1", err: boom})
	ms, err := g.wait(t.Context())
	if !errors.Is(err, boom) || ms.addr != "10.0.0.1" {
		t.Fatalf("wait after open = %+v, %v; want the manager's outcome", ms, err)
	}
}
