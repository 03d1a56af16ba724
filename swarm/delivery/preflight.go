package delivery

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/internal/platform"
	"github.com/archwayhq/archway/proxy/swarmprovider"
	"github.com/archwayhq/archway/swarm/rollout"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks a spec before anything is read from the cluster.
func (s Spec) Validate() error {
	if strings.TrimSpace(s.Image) == "" {
		return fmt.Errorf("-image: missing: name the image to release, e.g. 127.0.0.1:5000/archway/app:v2")
	}
	if strings.ContainsAny(s.Image, " \t\r\n") {
		return fmt.Errorf("-image=%q: an image reference has no white space", s.Image)
	}
	for k, v := range s.Env {
		switch {
		case !envName.MatchString(k):
			return fmt.Errorf("-env %q: want NAME=value with NAME of letters, digits and _", k+"="+v)
		case k == ReleaseEnv:
			return fmt.Errorf("-env %s: set by the release itself (its id)", k)
		case strings.ContainsAny(v, "\x00\r\n"):
			return fmt.Errorf("-env %s=%q: control characters in a value", k, v)
		}
	}
	return nil
}

// roles finds the stable colour (the one users reach) and the idle one that gets the
// release: exactly one colour with weight > 0 and one with weight 0.
func roles(svcs map[string]swarm.Service) (stable, canary string, err error) {
	var live, idle []string
	for c, svc := range svcs {
		// The weight as the proxy reads it: " 0" and "00" are idle too.
		w, err := swarmprovider.Weight(svc.Spec.Labels)
		switch {
		case err != nil:
			return "", "", fmt.Errorf("service %s: label %s=%q: %v", svc.Spec.Name, swarmprovider.LabelWeight, svc.Spec.Labels[swarmprovider.LabelWeight], err)
		case w == 0:
			idle = append(idle, c)
		default:
			live = append(live, c+"="+strconv.Itoa(w))
		}
	}
	slices.Sort(live)
	slices.Sort(idle)
	switch {
	case len(svcs) == 0:
		return "", "", fmt.Errorf("no colour services in the group: deploy the stack first")
	case len(live) != 1 || len(idle) != 1:
		return "", "", fmt.Errorf("a release needs one colour serving and one idle (weight 0); the group has serving %v, idle %v: finish the manual split first (promote or rollback)", live, idle)
	}
	stable, _, _ = strings.Cut(live[0], "=")
	return stable, idle[0], nil
}

// readyNode is a node that takes tasks: its hostname, what it reports of itself, and
// its platform ("" unknown).
type readyNode struct{ host, os, machine, platform string }

// readyNodes lists the ready, active nodes with their platforms (platform.OfNode).
func readyNodes(ctx context.Context, api ClusterAPI) ([]readyNode, error) {
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var out []readyNode
	for _, n := range nodes {
		if n.Status.State != swarm.NodeStateReady || n.Spec.Availability != swarm.NodeAvailabilityActive {
			continue
		}
		d := n.Description
		out = append(out, readyNode{d.Hostname, d.Platform.OS, d.Platform.Architecture,
			platform.OfNode(n.Spec.Labels, d.Platform.OS, d.Platform.Architecture)})
	}
	return out, nil
}

// nodePlatforms maps the platform of every ready, active node to one node of it (for
// messages), and counts those nodes. A node of a platform archway does not know is an
// error: its requests could not be judged.
func nodePlatforms(ctx context.Context, api ClusterAPI) (map[string]string, int, error) {
	nodes, err := readyNodes(ctx, api)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]string{}
	for _, n := range nodes {
		if n.platform == "" {
			return nil, 0, fmt.Errorf("node %s: platform %s/%s is not one archway knows", n.host, n.os, n.machine)
		}
		if _, ok := out[n.platform]; !ok {
			out[n.platform] = n.host
		}
	}
	if len(out) == 0 {
		return nil, 0, fmt.Errorf("no ready node in the cluster")
	}
	return out, len(nodes), nil
}

// checkImage asks the manager's registry lookup (as `docker service update --image`
// does, with the caller's credentials for that registry) whether the image exists and
// has a variant for every node's platform.
func checkImage(ctx context.Context, api ClusterAPI, image string, nodes map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	auth, err := rollout.RegistryAuth(image)
	if err != nil {
		return fmt.Errorf("-image=%s: %w", image, err)
	}
	di, err := api.DistributionInspect(ctx, image, auth)
	if err != nil {
		return fmt.Errorf("-image=%s: the registry does not serve it: %w", image, oneLine(err))
	}
	have := map[string]bool{}
	var list []string
	for _, p := range di.Platforms {
		s := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			s += "/" + p.Variant
		}
		have[s] = true
		list = append(list, s)
	}
	if len(di.Platforms) == 0 {
		return fmt.Errorf("-image=%s: the registry reports no platform for it (a single-platform image without a config?)", image)
	}
	var want []string
	for p := range nodes {
		want = append(want, p)
	}
	slices.Sort(want)
	for _, p := range want {
		// An arm64 variant may be recorded as arm64/v8.
		if !have[p] && !(p == "linux/arm64" && have["linux/arm64/v8"]) {
			slices.Sort(list)
			return fmt.Errorf("-image=%s: no %s variant, which node %s runs (the image has %s)", image, p, nodes[p], strings.Join(list, ", "))
		}
	}
	return nil
}

// oneLine keeps the first line of an error: registry errors can carry whole bodies.
func oneLine(err error) error {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return fmt.Errorf("%s", s)
}

// PlatformCounts counts the ready, active nodes per platform.
func PlatformCounts(ctx context.Context, api ClusterAPI) (map[string]int, error) {
	nodes, err := readyNodes(ctx, api)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, n := range nodes {
		out[n.platform]++
	}
	return out, nil
}
