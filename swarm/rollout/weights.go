package rollout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy/swarmprovider"
)

// ServiceAPI is the part of the Docker client that weight changes need.
type ServiceAPI interface {
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	ServiceInspectWithRaw(ctx context.Context, serviceID string, opts swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, service swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
}

// Weights maps a colour (lower case, as in the archway.color label) to its weight.
type Weights map[string]int

// String renders weights in a stable order, e.g. "blue=4 green=1".
func (w Weights) String() string {
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + strconv.Itoa(w[n])
	}
	return strings.Join(parts, " ")
}

// ParseWeights parses "blue=4,green=1"; every error names the entry and its value.
func ParseWeights(s string) (Weights, error) {
	w := Weights{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" {
			return nil, fmt.Errorf("weights: entry %q: want colour=weight", part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("weights: %s=%q: weight must be an integer >= 0", name, val)
		}
		w[name] = n
	}
	if len(w) == 0 {
		return nil, fmt.Errorf("weights: %q: no colour=weight entries", s)
	}
	total := 0
	for _, n := range w {
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("weights: %q: at least one weight must be > 0", s)
	}
	return w, nil
}

// GroupServices lists the services of a group by colour (lower case).
func GroupServices(ctx context.Context, api ServiceAPI, group string) (map[string]swarm.Service, error) {
	f := filters.NewArgs(filters.Arg("label", swarmprovider.LabelColor))
	if group != "" {
		f.Add("label", swarmprovider.LabelGroup+"="+group)
	}
	svcs, err := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list services of group %q: %w", group, err)
	}
	byColor := make(map[string]swarm.Service, len(svcs))
	for _, s := range svcs {
		c := strings.ToLower(s.Spec.Labels[swarmprovider.LabelColor])
		if prev, dup := byColor[c]; dup {
			return nil, fmt.Errorf("group %q: colour %q is on two services, %s and %s", group, c, prev.Spec.Name, s.Spec.Name)
		}
		byColor[c] = s
	}
	return byColor, nil
}

// SetWeights writes the archway.weight label of each colour's service in group. It checks
// every colour first so that an unknown colour changes nothing, and it retries an update
// that lost a race with another writer (Swarm's optimistic version check).
func SetWeights(ctx context.Context, api ServiceAPI, group string, w Weights) error {
	byColor, err := GroupServices(ctx, api, group)
	if err != nil {
		return err
	}
	for c := range w {
		if _, ok := byColor[c]; !ok {
			return fmt.Errorf("colour %q: no service labelled %s=%s in group %q", c, swarmprovider.LabelColor, c, group)
		}
	}
	// Raise weights before lowering others, so that the sum never passes through zero
	// on the way (the proxy refuses a backend set with no weight > 0).
	order := make([]string, 0, len(w))
	for c := range w {
		order = append(order, c)
	}
	slices.SortFunc(order, func(a, b string) int { return w[b] - w[a] })
	for _, c := range order {
		if err := setWeight(ctx, api, byColor[c].ID, w[c]); err != nil {
			return fmt.Errorf("colour %q: %w", c, err)
		}
	}
	return nil
}

func setWeight(ctx context.Context, api ServiceAPI, id string, weight int) error {
	return SetLabel(ctx, api, id, swarmprovider.LabelWeight, strconv.Itoa(weight))
}

// SetLabel writes one label of service id (the service's labels, not its tasks': no
// task restarts), and does nothing when the label already has the value.
func SetLabel(ctx context.Context, api ServiceAPI, id, key, value string) error {
	_, err := UpdateService(ctx, api, id, swarm.ServiceUpdateOptions{}, func(s *swarm.ServiceSpec) (bool, error) {
		if s.Labels[key] == value {
			return false, nil
		}
		s.Labels[key] = value
		return true, nil
	})
	if err != nil {
		if len(value) > 60 {
			value = value[:60] + "…"
		}
		return fmt.Errorf("update service %s label %s=%s: %w", id, key, value, err)
	}
	return nil
}

// UpdateService applies change to the current spec of service id and writes it with
// the version it read, so that a change decided on what the spec says is written only
// over that spec. When another writer got in between (Swarm's optimistic version
// check), it reads again and calls change on the newer spec, a few times. change gets
// its own copy of the labels; it returns false to leave the service as it is, and an
// error to stop. UpdateService reports whether it wrote.
func UpdateService(ctx context.Context, api ServiceAPI, id string, opts swarm.ServiceUpdateOptions, change func(*swarm.ServiceSpec) (bool, error)) (bool, error) {
	const attempts = 5
	var err error
	for range attempts {
		var svc swarm.Service
		svc, _, err = api.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			return false, fmt.Errorf("inspect service %s: %w", id, err)
		}
		spec := svc.Spec
		spec.Labels = maps.Clone(spec.Labels)
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		write, cerr := change(&spec)
		if cerr != nil || !write {
			return false, cerr
		}
		if _, err = api.ServiceUpdate(ctx, id, svc.Version, spec, opts); err == nil {
			return true, nil
		}
		if !IsUpdateRace(err) {
			break
		}
	}
	return false, err
}

// IsUpdateRace reports whether a service update failed because another writer updated
// the service first: read it again and retry.
func IsUpdateRace(err error) bool {
	return cerrdefs.IsInvalidArgument(err) || strings.Contains(err.Error(), "out of sequence")
}
