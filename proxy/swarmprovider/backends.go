package swarmprovider

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/internal/platform"
	"github.com/archwayhq/archway/proxy"
)

// cluster is one consistent-enough read of the Swarm: the services that may be backends,
// their tasks, and every node (for addresses and health).
type cluster struct {
	services []swarm.Service
	tasks    []swarm.Task
	nodes    []swarm.Node
}

// backends turns a cluster read into the complete desired backend set. It never fails as a
// whole: a service with bad labels, or a task that cannot be addressed, is reported in
// problems and left out, so one broken service cannot take the others down.
//
// Colours with no addressable running task are left out too: during a deploy the new colour
// has weight but no members yet, and the proxy must keep serving the others at their weights.
func (c Config) backends(cl cluster) (specs []proxy.BackendSpec, problems []error) {
	nodes := make(map[string]*swarm.Node, len(cl.nodes))
	for i := range cl.nodes {
		nodes[cl.nodes[i].ID] = &cl.nodes[i]
	}
	tasksBySvc := map[string][]*swarm.Task{}
	for i := range cl.tasks {
		t := &cl.tasks[i]
		tasksBySvc[t.ServiceID] = append(tasksBySvc[t.ServiceID], t)
	}
	// Services in name order so that conflicts resolve the same way on every read.
	svcs := make([]*swarm.Service, 0, len(cl.services))
	for i := range cl.services {
		svcs = append(svcs, &cl.services[i])
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Spec.Name < svcs[j].Spec.Name })

	labelled, problems := c.labelled(svcs)
	kept := keptColours(labelled)
	colours := map[string]*foundColour{}
	for _, ls := range labelled {
		svc, l := ls.svc, ls.labels
		if kept != nil && !kept[l.color] {
			problems = append(problems, &LabelError{Service: svc.Spec.Name, Label: LabelColor, Value: svc.Spec.Labels[LabelColor],
				Reason: fmt.Sprintf("the group has more than %d colours, the proxy's limit: the newest are left out", proxy.MaxColours)})
			continue
		}
		col := colours[l.color]
		if col == nil {
			col = &foundColour{weight: l.weight, owner: svc.Spec.Name, members: map[string]*url.URL{}, info: map[string]proxy.MemberInfo{}}
			colours[l.color] = col
		} else if col.weight != l.weight {
			// Two services share a colour (e.g. a blue stack redeployed under another name):
			// their members can be merged, but one colour has one weight.
			problems = append(problems, &LabelError{Service: svc.Spec.Name, Label: LabelWeight,
				Value:  strconv.Itoa(l.weight),
				Reason: fmt.Sprintf("colour %s already has weight %d from service %q", l.color, col.weight, col.owner)})
			continue
		}
		problems = append(problems, c.addMembers(col, svc, tasksBySvc[svc.ID], nodes, l.port)...)
	}
	for name, col := range colours {
		if spec, ok := col.spec(name); ok {
			specs = append(specs, spec)
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs, problems
}

// labelledService is a service of the group whose labels make it a backend.
type labelledService struct {
	svc    *swarm.Service
	labels serviceLabels
}

// labelled reads the labels of svcs (in their order) once: the group's services that
// are backends, and what is wrong with the labels of the others that meant to be
// (bad values, misspelt labels, a group label off by white space or case).
func (c Config) labelled(svcs []*swarm.Service) (out []labelledService, problems []error) {
	for _, svc := range svcs {
		if !c.inGroup(svc.Spec.Labels) {
			problems = append(problems, c.nearGroup(svc)...)
			continue
		}
		problems = append(problems, labelTypos(svc)...)
		l, ok, err := parseLabels(svc.Spec.Name, svc.Spec.Labels)
		switch {
		case !ok:
		case err != nil:
			problems = append(problems, err)
		default:
			out = append(out, labelledService{svc, l})
		}
	}
	return out, problems
}

// keptColours is nil when the services define at most proxy.MaxColours colours;
// otherwise the MaxColours colours whose first service was created earliest (then by
// colour name). The proxy refuses a larger set as a whole, so without this one service
// too many would stop every other service's changes from being applied; this way the
// newest colours are the ones left out.
func keptColours(labelled []labelledService) map[string]bool {
	first := map[string]*swarm.Service{}
	for _, ls := range labelled {
		if f := first[ls.labels.color]; f == nil || ls.svc.CreatedAt.Before(f.CreatedAt) {
			first[ls.labels.color] = ls.svc
		}
	}
	if len(first) <= proxy.MaxColours {
		return nil
	}
	names := make([]string, 0, len(first))
	for name := range first {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := first[names[i]].CreatedAt, first[names[j]].CreatedAt
		if !a.Equal(b) {
			return a.Before(b)
		}
		return names[i] < names[j]
	})
	kept := make(map[string]bool, proxy.MaxColours)
	for _, name := range names[:proxy.MaxColours] {
		kept[name] = true
	}
	return kept
}

// foundColour is one colour as the services' labels define it.
type foundColour struct {
	weight  int
	owner   string // first service that defined the weight
	members map[string]*url.URL
	info    map[string]proxy.MemberInfo
}

// addMembers adds to col a member for each of svc's tasks that runs, is meant to,
// and is on a ready node; it returns why a task could not be a member.
func (c Config) addMembers(col *foundColour, svc *swarm.Service, tasks []*swarm.Task, nodes map[string]*swarm.Node, port uint32) []error {
	var problems []error
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning || t.DesiredState != swarm.TaskStateRunning {
			// A task being replaced keeps running for its drain period: leave it
			// before it stops, not after.
			continue
		}
		node := nodes[t.NodeID]
		if node == nil || node.Status.State != swarm.NodeStateReady {
			// Swarm keeps reporting tasks of a lost node as running; their node is
			// the truth.
			continue
		}
		u, err := c.memberURL(svc, t, node, port)
		if err != nil {
			problems = append(problems, fmt.Errorf("service %q task %s on node %s: %w", svc.Spec.Name, shortID(t.ID), nodeName(node), err))
			continue
		}
		col.members[u.String()] = u
		col.info[u.String()] = memberInfo(node)
	}
	return problems
}

// spec is the colour as a backend, members in URL order; false when it has none.
func (col *foundColour) spec(name string) (proxy.BackendSpec, bool) {
	if len(col.members) == 0 {
		return proxy.BackendSpec{}, false
	}
	spec := proxy.BackendSpec{Name: name, Weight: col.weight, Info: col.info}
	keys := make([]string, 0, len(col.members))
	for k := range col.members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec.Members = append(spec.Members, col.members[k])
	}
	return spec, true
}

func (c Config) inGroup(labels map[string]string) bool {
	if c.Group == "" {
		return true
	}
	return labels[LabelGroup] == c.Group
}

// memberURL addresses one running task: on c.Network by the task's own IP (real clusters
// with overlay networks), otherwise by its node's address and the port it publishes on the
// host (host-mode ports: no routing mesh needed) or, failing that, the ingress port.
func (c Config) memberURL(svc *swarm.Service, t *swarm.Task, node *swarm.Node, port uint32) (*url.URL, error) {
	if c.Network != "" {
		target, err := targetPort(svc, port)
		if err != nil {
			return nil, err
		}
		for _, na := range t.NetworksAttachments {
			if na.Network.Spec.Name != c.Network && na.Network.ID != c.Network {
				continue
			}
			for _, a := range na.Addresses {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					continue
				}
				return httpURL(p.Addr().String(), target), nil
			}
		}
		return nil, fmt.Errorf("no address on network %q", c.Network)
	}

	addr := nodeAddr(node)
	if addr == "" {
		return nil, fmt.Errorf("node has no usable address (Status.Addr %q)", node.Status.Addr)
	}
	if p, ok, err := pickPort(t.Status.PortStatus.Ports, swarm.PortConfigPublishModeHost, port); err != nil {
		return nil, err
	} else if ok {
		return httpURL(addr, p.PublishedPort), nil
	}
	if p, ok, err := pickPort(svc.Endpoint.Ports, swarm.PortConfigPublishModeIngress, port); err != nil {
		return nil, err
	} else if ok {
		return httpURL(addr, p.PublishedPort), nil
	}
	if port != 0 {
		return nil, fmt.Errorf("container port %d (label %s) is not published", port, LabelPort)
	}
	return nil, fmt.Errorf("no published TCP port (publish one in host mode, or set %s and use a network)", LabelPort)
}

// pickPort finds the published TCP port for container port want, or the only one when
// want is 0.
func pickPort(ports []swarm.PortConfig, mode swarm.PortConfigPublishMode, want uint32) (swarm.PortConfig, bool, error) {
	var found []swarm.PortConfig
	for _, p := range ports {
		if p.PublishMode != mode || p.PublishedPort == 0 || (p.Protocol != "" && p.Protocol != swarm.PortConfigProtocolTCP) {
			continue
		}
		if want == 0 || p.TargetPort == want {
			found = append(found, p)
		}
	}
	switch {
	case len(found) == 0:
		return swarm.PortConfig{}, false, nil
	case len(found) > 1 && want == 0:
		return swarm.PortConfig{}, false, fmt.Errorf("%d published TCP ports: set label %s to the app's container port", len(found), LabelPort)
	}
	return found[0], true, nil
}

// targetPort is the container port to dial on a task IP.
func targetPort(svc *swarm.Service, port uint32) (uint32, error) {
	if port != 0 {
		return port, nil
	}
	var tcp []uint32
	if svc.Spec.EndpointSpec != nil {
		for _, p := range svc.Spec.EndpointSpec.Ports {
			if p.Protocol == "" || p.Protocol == swarm.PortConfigProtocolTCP {
				tcp = append(tcp, p.TargetPort)
			}
		}
	}
	if len(tcp) != 1 {
		return 0, fmt.Errorf("label %s is required to address tasks on a network (service publishes %d TCP ports)", LabelPort, len(tcp))
	}
	return tcp[0], nil
}

// nodeAddr is the address other nodes reach a node on. Managers may report 0.0.0.0 in
// Status.Addr (when they listen on all interfaces); their manager address has the real IP.
func nodeAddr(n *swarm.Node) string {
	if a, err := netip.ParseAddr(n.Status.Addr); err == nil && !a.IsUnspecified() {
		return a.String()
	}
	if n.ManagerStatus != nil {
		if host, _, err := net.SplitHostPort(n.ManagerStatus.Addr); err == nil {
			if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
				return a.String()
			}
		}
	}
	return ""
}

func httpURL(host string, port uint32) *url.URL {
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))}
}

// memberInfo is where a task runs: its node's name and platform, so that the proxy's
// statistics tell a release failing on one architecture from one failing everywhere.
func memberInfo(n *swarm.Node) proxy.MemberInfo {
	return proxy.MemberInfo{
		Node:     nodeName(n),
		Platform: platform.OfNode(n.Spec.Labels, n.Description.Platform.OS, n.Description.Platform.Architecture),
	}
}

func nodeName(n *swarm.Node) string {
	if n.Description.Hostname != "" {
		return n.Description.Hostname
	}
	return shortID(n.ID)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
