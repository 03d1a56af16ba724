package swarmprovider

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy"
)

// fakeAPI is a Swarm manager in memory: tests edit the cluster under mu and send events.
type fakeAPI struct {
	mu      sync.Mutex
	cl      cluster
	listErr error
	reads   int
	events  chan events.Message
	// lastTaskFilter records the filter of the latest TaskList call.
	lastTaskFilter string
}

func (f *fakeAPI) ServiceList(_ context.Context, o swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.listErr != nil {
		return nil, f.listErr
	}
	// The real API filters by label server-side; model the two labels the provider asks for.
	var out []swarm.Service
	for _, s := range f.cl.services {
		keep := true
		for _, l := range o.Filters.Get("label") {
			k, v, hasV := strings.Cut(l, "=")
			got, ok := s.Spec.Labels[k]
			if !ok || (hasV && got != v) {
				keep = false
			}
		}
		if keep {
			// Fresh maps, as a real API response would have: the test edits its own.
			s.Spec.Labels = maps.Clone(s.Spec.Labels)
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeAPI) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTaskFilter = strings.Join(o.Filters.Get("service"), ",")
	return append([]swarm.Task(nil), f.cl.tasks...), nil
}

func (f *fakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]swarm.Node(nil), f.cl.nodes...), nil
}

func (f *fakeAPI) Events(ctx context.Context, _ events.ListOptions) (<-chan events.Message, <-chan error) {
	return f.events, make(chan error)
}

func (f *fakeAPI) edit(fn func(*cluster)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.cl)
}

// recorder collects apply calls.
type recorder struct {
	mu    sync.Mutex
	sets  []string
	fail  error
	calls chan string
}

func (r *recorder) apply(specs []proxy.BackendSpec) error {
	k := specsKey(specs)
	r.mu.Lock()
	r.sets = append(r.sets, k)
	fail := r.fail
	r.mu.Unlock()
	r.calls <- k
	return fail
}

func (r *recorder) next(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case k := <-r.calls:
		return k
	case <-time.After(within):
		t.Fatalf("no apply within %v", within)
		return ""
	}
}

func (r *recorder) none(t *testing.T, during time.Duration) {
	t.Helper()
	select {
	case k := <-r.calls:
		t.Fatalf("unexpected apply %s", k)
	case <-time.After(during):
	}
}

func startProvider(t *testing.T, api *fakeAPI, cfg Config) (*recorder, *testutil.SyncBuffer) {
	t.Helper()
	logs, rec := startProviderWith(t, api, cfg, nil)
	return rec, logs
}

// startProviderWith is startProvider with an OnRollout hook.
func startProviderWith(t *testing.T, api *fakeAPI, cfg Config, onRollout func(*proxy.Rollout)) (*testutil.SyncBuffer, *recorder) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	p := NewWithAPI(api, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	p.OnRollout = onRollout
	p.debounce = 10 * time.Millisecond
	rec := &recorder{calls: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec.apply) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return logs, rec
}

func baseCluster() cluster {
	return cluster{
		services: []swarm.Service{
			svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "4")),
			svc("g", "app-green", labels(LabelColor, "green", LabelWeight, "1")),
		},
		tasks: []swarm.Task{
			task("t1", "b", "n1", swarm.TaskStateRunning, 18081),
			task("t2", "g", "n1", swarm.TaskStateRunning, 18082),
		},
		nodes: []swarm.Node{node("n1", "10.0.0.1", swarm.NodeStateReady), node("n2", "10.0.0.2", swarm.NodeStateReady)},
	}
}

func TestRunFollowsEventsAndSkipsUnchangedSets(t *testing.T) {
	api := &fakeAPI{cl: baseCluster(), events: make(chan events.Message, 4)}
	// A long resync proves the event, not the timer, triggers the second read.
	rec, _ := startProvider(t, api, Config{Resync: time.Hour})

	if got, want := rec.next(t, 2*time.Second), "BLUE=4[http://10.0.0.1:18081] GREEN=1[http://10.0.0.1:18082]"; got != want {
		t.Fatalf("first set %s, want %s", got, want)
	}
	if f := api.lastTaskFilter; f != "b,g" && f != "g,b" {
		t.Errorf("tasks listed for services %q, want only the labelled b,g", f)
	}

	// An event with nothing changed: no apply.
	api.events <- events.Message{Type: events.ServiceEventType, Action: "update"}
	rec.none(t, 200*time.Millisecond)

	// Promote via a label update.
	api.edit(func(c *cluster) {
		c.services[0].Spec.Labels[LabelWeight] = "0"
		c.services[1].Spec.Labels[LabelWeight] = "5"
	})
	api.events <- events.Message{Type: events.ServiceEventType, Action: "update"}
	if got, want := rec.next(t, 2*time.Second), "BLUE=0[http://10.0.0.1:18081] GREEN=5[http://10.0.0.1:18082]"; got != want {
		t.Fatalf("after promote %s, want %s", got, want)
	}
}

func TestRunResyncCatchesTaskChanges(t *testing.T) {
	api := &fakeAPI{cl: baseCluster(), events: make(chan events.Message)}
	rec, _ := startProvider(t, api, Config{Resync: 50 * time.Millisecond})
	rec.next(t, 2*time.Second)

	// A new blue task on n2 starts: task changes emit no event, the resync must see it.
	api.edit(func(c *cluster) { c.tasks = append(c.tasks, task("t3", "b", "n2", swarm.TaskStateRunning, 18081)) })
	if got, want := rec.next(t, 2*time.Second), "BLUE=4[http://10.0.0.1:18081 http://10.0.0.2:18081] GREEN=1[http://10.0.0.1:18082]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Node n1 goes down: its members leave.
	api.edit(func(c *cluster) { c.nodes[0].Status.State = swarm.NodeStateDown })
	if got, want := rec.next(t, 2*time.Second), "BLUE=4[http://10.0.0.2:18081]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestRunLogsBadLabelsOnceAndKeepsOthers(t *testing.T) {
	cl := baseCluster()
	cl.services[1].Spec.Labels[LabelWeight] = "-1"
	api := &fakeAPI{cl: cl, events: make(chan events.Message)}
	rec, logs := startProvider(t, api, Config{Resync: 20 * time.Millisecond})
	if got, want := rec.next(t, 2*time.Second), "BLUE=4[http://10.0.0.1:18081]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	time.Sleep(200 * time.Millisecond) // ~10 resyncs
	out := logs.String()
	line := `service \"app-green\": label archway.weight=\"-1\"`
	if n := strings.Count(out, line); n != 1 {
		t.Fatalf("bad label logged %d times, want once; logs:\n%s", n, out)
	}
}

func TestRunSurvivesAPIErrorsAndApplyRejections(t *testing.T) {
	api := &fakeAPI{cl: baseCluster(), events: make(chan events.Message), listErr: errors.New("connection refused")}
	rec, logs := startProvider(t, api, Config{Resync: 20 * time.Millisecond})
	rec.none(t, 150*time.Millisecond)
	if n := strings.Count(logs.String(), "connection refused"); n != 1 {
		t.Fatalf("API error logged %d times, want once:\n%s", n, logs.String())
	}

	rec.mu.Lock()
	rec.fail = errors.New("weight sum is zero")
	rec.mu.Unlock()
	api.edit(func(*cluster) { api.listErr = nil })
	rec.next(t, 2*time.Second)
	rec.none(t, 150*time.Millisecond) // the rejected set is not offered again
	if !strings.Contains(logs.String(), "reading swarm works again") || !strings.Contains(logs.String(), "weight sum is zero") {
		t.Fatalf("logs lack recovery or rejection:\n%s", logs.String())
	}
	// A changed set is offered again.
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	api.edit(func(c *cluster) { c.services[1].Spec.Labels[LabelWeight] = "2" })
	if got := rec.next(t, 2*time.Second); !strings.Contains(got, "GREEN=2") {
		t.Fatalf("got %s, want GREEN=2", got)
	}
}

func TestConfig(t *testing.T) {
	env := map[string]string{EnvGroup: "stack1", EnvNetwork: "net", EnvResync: "500ms"}
	var c Config
	if err := c.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c != (Config{Group: "stack1", Network: "net", Resync: 500 * time.Millisecond}) {
		t.Fatalf("FromEnv: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env[EnvResync] = "soon"
	err := c.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), `ARCHWAY_SWARM_RESYNC="soon"`) {
		t.Fatalf("bad resync: %v", err)
	}
	for _, bad := range []Config{{Group: "a b"}, {Resync: time.Millisecond}, {Resync: -time.Second}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}

// TestRunAppliesInfoChanges: the same addresses on a node whose platform changed (a
// re-joined node) is a new backend set for the proxy.
func TestRunAppliesInfoChanges(t *testing.T) {
	cl := baseCluster()
	cl.nodes[0].Description.Platform = swarm.Platform{OS: "linux", Architecture: "aarch64"}
	api := &fakeAPI{cl: cl, events: make(chan events.Message, 1)}
	rec, _ := startProvider(t, api, Config{Resync: 20 * time.Millisecond})
	first := rec.next(t, 2*time.Second)
	api.edit(func(c *cluster) { c.nodes[0].Description.Platform.Architecture = "x86_64" })
	if got := rec.next(t, 2*time.Second); got != first {
		t.Fatalf("applied %s, want the same addresses %s", got, first)
	}
	rec.none(t, 100*time.Millisecond)
}
