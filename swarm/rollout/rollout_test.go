package rollout

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"

	"github.com/archwayhq/archway/proxy"
)

func TestParseWeights(t *testing.T) {
	good := map[string]string{
		"blue=4,green=1":    "blue=4 green=1",
		" BLUE=0 , green=1": "blue=0 green=1",
	}
	for in, want := range good {
		w, err := ParseWeights(in)
		if err != nil || w.String() != want {
			t.Errorf("ParseWeights(%q) = %v, %v; want %s", in, w, err, want)
		}
	}
	bad := map[string]string{
		"blue=-1":        `weights: blue="-1": weight must be an integer >= 0`,
		"blue=x":         `weights: blue="x": weight must be an integer >= 0`,
		"blue":           `weights: entry "blue": want colour=weight`,
		"":               `weights: "": no colour=weight entries`,
		"blue=0,green=0": `weights: "blue=0,green=0": at least one weight must be > 0`,
	}
	for in, want := range bad {
		if _, err := ParseWeights(in); err == nil || err.Error() != want {
			t.Errorf("ParseWeights(%q) error = %v, want %s", in, err, want)
		}
	}
}

// fakeCluster is an in-memory Swarm: services with labels and versions, nodes and tasks.
type fakeCluster struct {
	services  map[string]*swarm.Service
	nodes     []swarm.Node
	tasks     []swarm.Task
	conflicts int // ServiceUpdate fails this many times with "out of sequence"
	updateLog []string
}

func (f *fakeCluster) ServiceList(_ context.Context, _ swarm.ServiceListOptions) ([]swarm.Service, error) {
	var out []swarm.Service
	for _, s := range f.services {
		out = append(out, *s)
	}
	return out, nil
}

func (f *fakeCluster) ServiceInspectWithRaw(_ context.Context, id string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	s, ok := f.services[id]
	if !ok {
		return swarm.Service{}, nil, errdefs.NotFound(errors.New("no such service"))
	}
	return *s, nil, nil
}

func (f *fakeCluster) ServiceUpdate(_ context.Context, id string, v swarm.Version, spec swarm.ServiceSpec, _ swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	s := f.services[id]
	if f.conflicts > 0 {
		f.conflicts--
		s.Version.Index++ // someone else wrote in between
		return swarm.ServiceUpdateResponse{}, errdefs.InvalidParameter(errors.New("update out of sequence"))
	}
	if v.Index != s.Version.Index {
		return swarm.ServiceUpdateResponse{}, errdefs.InvalidParameter(errors.New("update out of sequence"))
	}
	s.Spec = spec
	s.Version.Index++
	f.updateLog = append(f.updateLog, spec.Labels["archway.color"]+"="+spec.Labels["archway.weight"])
	return swarm.ServiceUpdateResponse{}, nil
}

func (f *fakeCluster) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	return f.nodes, nil
}

// TaskList ignores the filters' service argument only partly: it filters by service ID
// itself, as the real daemon does.
func (f *fakeCluster) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	ids := o.Filters.Get("service")
	var out []swarm.Task
	for _, t := range f.tasks {
		for _, id := range ids {
			if t.ServiceID == id {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

func newFake() *fakeCluster {
	svc := func(id, color, weight string) *swarm.Service {
		s := &swarm.Service{ID: id}
		s.Spec.Name = "archway_" + color
		s.Spec.Labels = map[string]string{"archway.color": color, "archway.weight": weight, "archway.group": "archway"}
		s.Version.Index = 10
		return s
	}
	return &fakeCluster{services: map[string]*swarm.Service{
		"b": svc("b", "blue", "1"),
		"g": svc("g", "green", "0"),
	}}
}

func TestSetWeightsRaisesBeforeLowering(t *testing.T) {
	f := newFake()
	if err := SetWeights(context.Background(), f, "archway", Weights{"blue": 0, "green": 1}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.updateLog, " "); got != "green=1 blue=0" {
		t.Errorf("update order = %q, want green raised before blue lowered", got)
	}
}

func TestSetWeightsUnknownColourChangesNothing(t *testing.T) {
	f := newFake()
	err := SetWeights(context.Background(), f, "archway", Weights{"blue": 4, "red": 1})
	if err == nil || !strings.Contains(err.Error(), `colour "red": no service labelled archway.color=red`) {
		t.Fatalf("err = %v", err)
	}
	if len(f.updateLog) != 0 {
		t.Errorf("updates happened despite the error: %v", f.updateLog)
	}
}

func TestSetWeightsRetriesVersionConflicts(t *testing.T) {
	f := newFake()
	f.conflicts = 2
	if err := SetWeights(context.Background(), f, "archway", Weights{"blue": 4}); err != nil {
		t.Fatal(err)
	}
	if got := f.services["b"].Spec.Labels["archway.weight"]; got != "4" {
		t.Errorf("blue weight label = %q, want 4", got)
	}
}

func TestCheckGlobal(t *testing.T) {
	f := newFake()
	node := func(id, host string) swarm.Node {
		n := swarm.Node{ID: id}
		n.Description.Hostname = host
		n.Status.State = swarm.NodeStateReady
		n.Spec.Availability = swarm.NodeAvailabilityActive
		return n
	}
	f.nodes = []swarm.Node{node("n1", "mgr"), node("n2", "arm64")}
	task := func(svc, nodeID string, st swarm.TaskState, msg string) swarm.Task {
		t := swarm.Task{ServiceID: svc, NodeID: nodeID}
		t.Status.State, t.Status.Err = st, msg
		return t
	}
	f.tasks = []swarm.Task{
		task("b", "n1", swarm.TaskStateRunning, ""), task("b", "n2", swarm.TaskStateRunning, ""),
		task("g", "n1", swarm.TaskStateRunning, ""), task("g", "n2", swarm.TaskStatePending, "no suitable node"),
	}
	conv, err := CheckGlobal(context.Background(), f, "archway")
	if err != nil {
		t.Fatal(err)
	}
	if conv.Done() {
		t.Fatal("converged although green is pending on arm64")
	}
	want := "archway_green not running on arm64 (last: pending on arm64: no suitable node)"
	if conv.String() != want {
		t.Errorf("String() = %q\nwant       %q", conv.String(), want)
	}
	f.tasks[3].Status.State = swarm.TaskStateRunning
	if conv, _ = CheckGlobal(context.Background(), f, "archway"); !conv.Done() {
		t.Errorf("not converged: %s", conv)
	}
	// Every task runs, but a redeploy's rolling update is about to replace them.
	f.services["b"].UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}
	if conv, _ = CheckGlobal(context.Background(), f, "archway"); conv.Done() || conv.String() != "rolling update under way: archway_blue" {
		t.Errorf("mid-update: done=%v %q", conv.Done(), conv)
	}
	f.services["b"].UpdateStatus.State = swarm.UpdateStateCompleted
	if conv, _ = CheckGlobal(context.Background(), f, "archway"); !conv.Done() {
		t.Errorf("update completed, not converged: %s", conv)
	}
}

func TestProxyMismatch(t *testing.T) {
	st := proxy.Status{Backends: []proxy.ColourStatus{
		{Name: "BLUE", Weight: 4, Members: []proxy.MemberStatus{{Up: true}, {Up: true}}},
		{Name: "GREEN", Weight: 1, Members: []proxy.MemberStatus{{Up: true}, {Up: false}}},
	}}
	if got := proxyMismatch(st, Weights{"blue": 4}, 2); got != "" {
		t.Errorf("blue matches, got %q", got)
	}
	got := proxyMismatch(st, Weights{"blue": 4, "green": 1, "red": 1}, 2)
	want := "green: weight 1 (want 1), 1/2 members up; red: not a backend yet"
	if got != want {
		t.Errorf("mismatch = %q, want %q", got, want)
	}
}

func TestTallyTable(t *testing.T) {
	ta := Tally{Counts: map[Cell]int{
		{Platform: "linux/arm64", Machine: "aarch64", Color: "blue"}:  4,
		{Platform: "linux/arm64", Machine: "aarch64", Color: "green"}: 1,
		{Platform: "linux/amd64", Machine: "x86_64", Color: "blue"}:   4,
	}, Total: 10, Failed: 1, FirstErr: "502 Bad Gateway"}
	var b bytes.Buffer
	if err := ta.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"PLATFORM", "linux/amd64", "x86_64", "aarch64", "failed: 1 of 10 (first: 502 Bad Gateway)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if got := ta.ByColor(); got["blue"] != 8 || got["green"] != 1 {
		t.Errorf("ByColor = %v", got)
	}
}
