package swarmprovider

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy"
)

// Service labels the provider reads (service labels, i.e. `deploy.labels` in a stack file,
// not container labels: they can be changed with `docker service update --label-add`
// without restarting a single task).
const (
	// LabelColor names the backend colour a service's tasks belong to ("blue"); required.
	LabelColor = "archway.color"
	// LabelWeight is the colour's weight, a non-negative integer; required.
	LabelWeight = "archway.weight"
	// LabelPort is the container port the app listens on; optional when the service
	// publishes exactly one TCP port.
	LabelPort = "archway.port"
	// LabelGroup scopes a service to one proxy (Config.Group), so that several stacks
	// or test runs can share a cluster.
	LabelGroup = "archway.group"
)

// maxWeight is the proxy's own bound: a service above it is reported here, by name, instead
// of the proxy rejecting the whole backend set.
const maxWeight = proxy.MaxWeight

// serviceLabels is what one service's labels say about its backend.
type serviceLabels struct {
	color  string // upper-case, e.g. "BLUE"
	weight int
	port   uint32 // 0: not set
}

// LabelError is a bad label on one service: the service is ignored, the rest still apply.
type LabelError struct {
	Service string
	Label   string
	Value   string
	Reason  string
}

func (e *LabelError) Error() string {
	return fmt.Sprintf("service %q: label %s=%q: %s", e.Service, e.Label, e.Value, e.Reason)
}

// parseLabels reads the archway.* labels of one service. ok is false when the service is
// not an archway backend at all (no colour label); err is set when it claims to be one but
// a label is invalid.
func parseLabels(service string, labels map[string]string) (l serviceLabels, ok bool, err error) {
	color, ok := labels[LabelColor]
	if !ok {
		return serviceLabels{}, false, nil
	}
	bad := func(label, value, reason string) (serviceLabels, bool, error) {
		return serviceLabels{}, true, &LabelError{Service: service, Label: label, Value: value, Reason: reason}
	}
	color = strings.TrimSpace(color)
	if color == "" {
		return bad(LabelColor, labels[LabelColor], "empty colour")
	}
	// The proxy's rule, checked here for the same reason as maxWeight.
	if !proxy.IsColourName(color) {
		return bad(LabelColor, color, proxy.ColourRule)
	}
	l.color = strings.ToUpper(color)

	n, werr := Weight(labels)
	if werr != nil {
		return bad(LabelWeight, labels[LabelWeight], werr.Error())
	}
	l.weight = n

	if p, present := labels[LabelPort]; present {
		n, perr := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if perr != nil || n == 0 {
			return bad(LabelPort, p, "want a port 1..65535")
		}
		l.port = uint32(n)
	}
	return l, true, nil
}

// Weight is a colour service's archway.weight label as the proxy reads it: white space
// trimmed, an integer 0..10000. The error says what is wrong, not which service.
func Weight(labels map[string]string) (int, error) {
	w, present := labels[LabelWeight]
	if !present {
		return 0, errors.New("missing (want an integer 0.." + strconv.Itoa(maxWeight) + ")")
	}
	n, err := strconv.Atoi(strings.TrimSpace(w))
	if err != nil || n < 0 || n > maxWeight {
		return 0, errors.New("want an integer 0.." + strconv.Itoa(maxWeight))
	}
	return n, nil
}

// knownLabels are the service labels the provider reads.
var knownLabels = []string{LabelColor, LabelWeight, LabelPort, LabelGroup, LabelRelease}

// labelTypos reports a service's labels that look like a misspelt provider label
// (archway.colour, archway.prot: within two edits of one) and so would be ignored
// without a word. Other archway.* labels (the lab's, a test's) are not the provider's
// business and pass.
func labelTypos(svc *swarm.Service) []error {
	var problems []error
	for k, v := range svc.Spec.Labels {
		if !strings.HasPrefix(k, "archway.") || slices.Contains(knownLabels, k) {
			continue
		}
		for _, known := range knownLabels {
			if editDistance(k, known) <= 2 {
				problems = append(problems, &LabelError{Service: svc.Spec.Name, Label: k, Value: v,
					Reason: "not a label the provider reads; did you mean " + known + "?"})
				break
			}
		}
	}
	slices.SortFunc(problems, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return problems
}

// nearGroup reports a colour service left out only because its group label differs
// from the provider's group by white space or case ("archway " for "archway").
func (c Config) nearGroup(svc *swarm.Service) []error {
	g, ok := svc.Spec.Labels[LabelGroup]
	if _, colour := svc.Spec.Labels[LabelColor]; !ok || !colour || c.Group == "" || !strings.EqualFold(strings.TrimSpace(g), c.Group) {
		return nil
	}
	return []error{&LabelError{Service: svc.Spec.Name, Label: LabelGroup, Value: g,
		Reason: fmt.Sprintf("not this proxy's group %q (white space or case differ); service left out", c.Group)}}
}

// editDistance is the Levenshtein distance of two short strings (label names).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
