package swarmprovider

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy"
)

// Builders for a fake cluster; each returns a value the Docker API would.

func svc(id, name string, labels map[string]string) swarm.Service {
	s := swarm.Service{ID: id}
	s.Spec.Name = name
	s.Spec.Labels = labels
	return s
}

func node(id, addr string, state swarm.NodeState) swarm.Node {
	n := swarm.Node{ID: id}
	n.Description.Hostname = "host-" + id
	n.Status = swarm.NodeStatus{State: state, Addr: addr}
	return n
}

func task(id, service, nodeID string, state swarm.TaskState, hostPorts ...uint32) swarm.Task {
	t := swarm.Task{ID: id, ServiceID: service, NodeID: nodeID, DesiredState: swarm.TaskStateRunning}
	t.Status.State = state
	for _, p := range hostPorts {
		t.Status.PortStatus.Ports = append(t.Status.PortStatus.Ports, swarm.PortConfig{
			Protocol: swarm.PortConfigProtocolTCP, TargetPort: 8080, PublishedPort: p, PublishMode: swarm.PortConfigPublishModeHost})
	}
	return t
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func render(specs []proxy.BackendSpec) string { return specsKey(specs) }

func TestBackends(t *testing.T) {
	readyNodes := []swarm.Node{
		node("n1", "10.0.0.1", swarm.NodeStateReady),
		node("n2", "10.0.0.2", swarm.NodeStateReady),
		node("n3", "10.0.0.3", swarm.NodeStateDown),
	}
	mgr := node("m", "0.0.0.0", swarm.NodeStateReady)
	mgr.ManagerStatus = &swarm.ManagerStatus{Addr: "10.0.0.9:2377", Leader: true}

	tests := []struct {
		name     string
		cfg      Config
		cl       cluster
		want     string
		problems []string
	}{
		{
			name: "two colours, one member per running task",
			cl: cluster{
				services: []swarm.Service{
					svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "4")),
					svc("g", "app-green", labels(LabelColor, "green", LabelWeight, "1")),
				},
				tasks: []swarm.Task{
					task("t1", "b", "n1", swarm.TaskStateRunning, 18081),
					task("t2", "b", "n2", swarm.TaskStateRunning, 18081),
					task("t3", "g", "n1", swarm.TaskStateRunning, 18082),
				},
				nodes: readyNodes,
			},
			want: "BLUE=4[http://10.0.0.1:18081 http://10.0.0.2:18081] GREEN=1[http://10.0.0.1:18082]",
		},
		{
			name: "task states: only running with desired running, on a ready node",
			cl: cluster{
				services: []swarm.Service{svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "1"))},
				tasks: []swarm.Task{
					task("starting", "b", "n1", swarm.TaskStateStarting, 1001),
					task("pending", "b", "n1", swarm.TaskStatePending),
					task("failed", "b", "n1", swarm.TaskStateFailed, 1002),
					func() swarm.Task { // being replaced: still running, desired shutdown
						t := task("old", "b", "n2", swarm.TaskStateRunning, 1003)
						t.DesiredState = swarm.TaskStateShutdown
						return t
					}(),
					task("lost", "b", "n3", swarm.TaskStateRunning, 1004), // node down
					task("ghost", "b", "n404", swarm.TaskStateRunning, 1005),
					task("ok", "b", "n2", swarm.TaskStateRunning, 1006),
				},
				nodes: readyNodes,
			},
			want: "BLUE=1[http://10.0.0.2:1006]",
		},
		{
			name: "manager reporting 0.0.0.0 is addressed by its manager address",
			cl: cluster{
				services: []swarm.Service{svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "1"))},
				tasks:    []swarm.Task{task("t", "b", "m", swarm.TaskStateRunning, 8081)},
				nodes:    []swarm.Node{mgr},
			},
			want: "BLUE=1[http://10.0.0.9:8081]",
		},
		{
			name: "bad labels: that service is ignored, the others apply",
			cl: cluster{
				services: []swarm.Service{
					svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "-1")),
					svc("x", "app-x", labels(LabelColor, "x", LabelWeight, "abc")),
					svc("g", "app-green", labels(LabelColor, "green", LabelWeight, "2")),
				},
				tasks: []swarm.Task{
					task("t1", "b", "n1", swarm.TaskStateRunning, 1),
					task("t2", "g", "n1", swarm.TaskStateRunning, 2),
					task("t3", "x", "n1", swarm.TaskStateRunning, 3),
				},
				nodes: readyNodes,
			},
			want: "GREEN=2[http://10.0.0.1:2]",
			problems: []string{
				`service "app-blue": label archway.weight="-1"`,
				`service "app-x": label archway.weight="abc"`,
			},
		},
		{
			name: "group filter",
			cfg:  Config{Group: "run1"},
			cl: cluster{
				services: []swarm.Service{
					svc("a", "a", labels(LabelColor, "blue", LabelWeight, "1", LabelGroup, "run1")),
					svc("b", "b", labels(LabelColor, "green", LabelWeight, "1", LabelGroup, "run2")),
					svc("c", "c", labels(LabelColor, "red", LabelWeight, "1")),
				},
				tasks: []swarm.Task{
					task("t1", "a", "n1", swarm.TaskStateRunning, 1),
					task("t2", "b", "n1", swarm.TaskStateRunning, 2),
					task("t3", "c", "n1", swarm.TaskStateRunning, 3),
				},
				nodes: readyNodes,
			},
			want: "BLUE=1[http://10.0.0.1:1]",
		},
		{
			name: "colour without running tasks is left out; weight 0 is kept",
			cl: cluster{
				services: []swarm.Service{
					svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "0")),
					svc("g", "app-green", labels(LabelColor, "green", LabelWeight, "5")),
				},
				tasks: []swarm.Task{
					task("t1", "b", "n1", swarm.TaskStateRunning, 1),
					task("t2", "g", "n1", swarm.TaskStatePreparing),
				},
				nodes: readyNodes,
			},
			want: "BLUE=0[http://10.0.0.1:1]",
		},
		{
			name: "two services, one colour: merged if weights agree, else the later one is reported",
			cl: cluster{
				services: []swarm.Service{
					svc("b1", "blue-a", labels(LabelColor, "blue", LabelWeight, "3")),
					svc("b2", "blue-b", labels(LabelColor, "BLUE", LabelWeight, "3")),
					svc("b3", "blue-c", labels(LabelColor, "blue", LabelWeight, "7")),
				},
				tasks: []swarm.Task{
					task("t1", "b1", "n1", swarm.TaskStateRunning, 1),
					task("t2", "b2", "n2", swarm.TaskStateRunning, 2),
					task("t3", "b3", "n2", swarm.TaskStateRunning, 3),
				},
				nodes: readyNodes,
			},
			want:     "BLUE=3[http://10.0.0.1:1 http://10.0.0.2:2]",
			problems: []string{`service "blue-c": label archway.weight="7": colour BLUE already has weight 3 from service "blue-a"`},
		},
		{
			name: "several host ports: archway.port picks one, else the service is reported",
			cl: cluster{
				services: []swarm.Service{
					svc("p", "picked", labels(LabelColor, "blue", LabelWeight, "1", LabelPort, "9090")),
					svc("a", "ambiguous", labels(LabelColor, "green", LabelWeight, "1")),
				},
				tasks: func() []swarm.Task {
					t1 := task("t1", "p", "n1", swarm.TaskStateRunning, 18080)
					t1.Status.PortStatus.Ports = append(t1.Status.PortStatus.Ports, swarm.PortConfig{
						Protocol: swarm.PortConfigProtocolTCP, TargetPort: 9090, PublishedPort: 19090, PublishMode: swarm.PortConfigPublishModeHost})
					t2 := t1
					t2.ID, t2.ServiceID = "t2", "a"
					return []swarm.Task{t1, t2}
				}(),
				nodes: readyNodes,
			},
			want:     "BLUE=1[http://10.0.0.1:19090]",
			problems: []string{`service "ambiguous" task t2 on node host-n1: 2 published TCP ports: set label archway.port`},
		},
		{
			name: "ingress port when no host port (clusters with a routing mesh)",
			cl: cluster{
				services: []swarm.Service{func() swarm.Service {
					s := svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "1"))
					s.Endpoint.Ports = []swarm.PortConfig{{Protocol: swarm.PortConfigProtocolTCP, TargetPort: 8080, PublishedPort: 30080, PublishMode: swarm.PortConfigPublishModeIngress}}
					return s
				}()},
				tasks: []swarm.Task{task("t1", "b", "n1", swarm.TaskStateRunning), task("t2", "b", "n2", swarm.TaskStateRunning)},
				nodes: readyNodes,
			},
			want: "BLUE=1[http://10.0.0.1:30080 http://10.0.0.2:30080]",
		},
		{
			name: "unpublished service is reported",
			cl: cluster{
				services: []swarm.Service{svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "1"))},
				tasks:    []swarm.Task{task("t1", "b", "n1", swarm.TaskStateRunning)},
				nodes:    readyNodes,
			},
			want:     "(none)",
			problems: []string{`service "app-blue" task t1 on node host-n1: no published TCP port`},
		},
		{
			name: "network mode: task IP on the named overlay and the container port",
			cfg:  Config{Network: "archway_net"},
			cl: cluster{
				services: []swarm.Service{
					svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "1", LabelPort, "8080")),
					svc("g", "app-green", labels(LabelColor, "green", LabelWeight, "1", LabelPort, "8080")),
				},
				tasks: func() []swarm.Task {
					t1 := task("t1", "b", "n1", swarm.TaskStateRunning)
					var ingress, app swarm.NetworkAttachment
					ingress.Network.Spec.Name = "ingress"
					ingress.Addresses = []string{"10.255.0.5/16"}
					app.Network.ID = "netid"
					app.Network.Spec.Name = "archway_net"
					app.Addresses = []string{"10.0.1.7/24"}
					t1.NetworksAttachments = []swarm.NetworkAttachment{ingress, app}
					t2 := task("t2", "g", "n2", swarm.TaskStateRunning)
					t2.NetworksAttachments = []swarm.NetworkAttachment{ingress}
					return []swarm.Task{t1, t2}
				}(),
				nodes: readyNodes,
			},
			want:     "BLUE=1[http://10.0.1.7:8080]",
			problems: []string{`service "app-green" task t2 on node host-n2: no address on network "archway_net"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, problems := tt.cfg.backends(tt.cl)
			if got := render(specs); got != tt.want {
				t.Errorf("backends:\n got %s\nwant %s", got, tt.want)
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems = %q, want %d like %q", problems, len(tt.problems), tt.problems)
			}
			for i, p := range problems {
				if !strings.Contains(p.Error(), tt.problems[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p, tt.problems[i])
				}
			}
		})
	}
}

// TestBackendsMemberInfo: every member carries its task's node name and the node's OCI
// platform, from Description.Hostname and Description.Platform; an architecture the
// table does not know is "" (the proxy counts it under "unknown").
func TestBackendsMemberInfo(t *testing.T) {
	n1 := node("n1", "10.0.0.1", swarm.NodeStateReady)
	n1.Description.Hostname = "lab-arm-v7"
	n1.Description.Platform = swarm.Platform{OS: "linux", Architecture: "armv7l"}
	n2 := node("n2", "10.0.0.2", swarm.NodeStateReady)
	n2.Description.Platform = swarm.Platform{OS: "linux", Architecture: "x86_64"}
	n3 := node("n3", "10.0.0.3", swarm.NodeStateReady)
	n3.Description.Hostname = ""
	n3.Description.Platform = swarm.Platform{OS: "linux", Architecture: "sparc64"}
	cl := cluster{
		services: []swarm.Service{svc("g", "app-green", labels(LabelColor, "green", LabelWeight, "1"))},
		tasks: []swarm.Task{
			task("t1", "g", "n1", swarm.TaskStateRunning, 18082),
			task("t2", "g", "n2", swarm.TaskStateRunning, 18082),
			task("t3", "g", "n3", swarm.TaskStateRunning, 18082),
		},
		nodes: []swarm.Node{n1, n2, n3},
	}
	specs, problems := Config{}.backends(cl)
	if len(problems) != 0 || len(specs) != 1 {
		t.Fatalf("specs %v problems %v", render(specs), problems)
	}
	want := map[string]proxy.MemberInfo{
		"http://10.0.0.1:18082": {Node: "lab-arm-v7", Platform: "linux/arm/v7"},
		"http://10.0.0.2:18082": {Node: "host-n2", Platform: "linux/amd64"},
		"http://10.0.0.3:18082": {Node: "n3", Platform: ""},
	}
	for _, u := range specs[0].Members {
		if got := specs[0].Info[u.String()]; got != want[u.String()] {
			t.Errorf("member %s: info %+v, want %+v", u, got, want[u.String()])
		}
	}
	// The proxy accepts what the provider produced.
	p := proxy.New(proxy.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := p.Apply(specs); err != nil {
		t.Fatal(err)
	}
}

// One service too many must not stop the others: with more colours than the proxy
// takes, the colours of the newest services are left out, each reported, and the rest
// is a set the proxy applies.
func TestBackendsOverColourLimitLeavesOutNewest(t *testing.T) {
	n := node("n1", "10.0.0.1", swarm.NodeStateReady)
	var cl cluster
	cl.nodes = []swarm.Node{n}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	total := proxy.MaxColours + 2
	for i := range total {
		id := fmt.Sprintf("s%02d", i)
		s := svc(id, fmt.Sprintf("app_c%02d", total-1-i), labels(LabelColor, fmt.Sprintf("c%02d", total-1-i), LabelWeight, "1"))
		s.CreatedAt = base.Add(time.Duration(i) * time.Minute) // names run against age
		cl.services = append(cl.services, s)
		cl.tasks = append(cl.tasks, task("t"+id, id, "n1", swarm.TaskStateRunning, uint32(20000+i)))
	}
	specs, problems := Config{}.backends(cl)
	if len(specs) != proxy.MaxColours || len(problems) != 2 {
		t.Fatalf("%d specs, problems %v; want %d and the 2 newest reported", len(specs), problems, proxy.MaxColours)
	}
	for _, p := range problems {
		if !strings.Contains(p.Error(), "more than 64 colours") || !(strings.Contains(p.Error(), `"app_c00"`) || strings.Contains(p.Error(), `"app_c01"`)) {
			t.Errorf("problem %v: want the newest services app_c00 and app_c01 named", p)
		}
	}
	if err := proxy.New(proxy.Options{Logger: slog.New(slog.DiscardHandler)}).Apply(specs); err != nil {
		t.Fatalf("the proxy refuses the kept set: %v", err)
	}
}

// A misspelt provider label, or a group label that differs by white space or case, is
// reported by service and label rather than ignored without a word; other archway.*
// labels (the lab's, a test's) pass unreported.
func TestBackendsReportsLabelTyposAndNearGroups(t *testing.T) {
	cl := cluster{
		services: []swarm.Service{
			svc("b", "app_blue", labels(LabelColor, "blue", LabelWeight, "1", LabelGroup, "shop", "archway.prot", "8080", "archway.test", "t1")),
			svc("g", "app_green", labels(LabelColor, "green", LabelWeight, "1", LabelGroup, "shop ")),
			svc("o", "other_red", labels(LabelColor, "red", LabelWeight, "1", LabelGroup, "other")),
		},
		tasks: []swarm.Task{task("t1", "b", "n1", swarm.TaskStateRunning, 18080)},
		nodes: []swarm.Node{node("n1", "10.0.0.1", swarm.NodeStateReady)},
	}
	specs, problems := Config{Group: "shop"}.backends(cl)
	if render(specs) != "BLUE=1[http://10.0.0.1:18080]" {
		t.Errorf("specs %s; want blue only (the typo is reported, the service still serves)", render(specs))
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Error())
	}
	want := []string{
		`service "app_blue": label archway.prot="8080": not a label the provider reads; did you mean archway.port?`,
		`service "app_green": label archway.group="shop ": not this proxy's group "shop" (white space or case differ); service left out`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
