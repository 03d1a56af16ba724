package delivery

import (
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy"
)

// roles reads the weight labels as the proxy does: "00" and " 0" are idle, a weight
// the proxy would refuse is an error naming the service and the label, not "serving".
func TestRolesReadWeightsAsTheProxy(t *testing.T) {
	svc := func(name, weight string) swarm.Service {
		var s swarm.Service
		s.Spec.Name = name
		s.Spec.Labels = map[string]string{"archway.color": "x", "archway.weight": weight}
		return s
	}
	stable, canary, err := roles(map[string]swarm.Service{"BLUE": svc("app_blue", " 10"), "GREEN": svc("app_green", "00")})
	if err != nil || stable != "BLUE" || canary != "GREEN" {
		t.Fatalf("roles = %q, %q, %v; want BLUE serving, GREEN idle", stable, canary, err)
	}
	_, _, err = roles(map[string]swarm.Service{"BLUE": svc("app_blue", "ten"), "GREEN": svc("app_green", "0")})
	if err == nil || !strings.Contains(err.Error(), `service app_blue: label archway.weight="ten": want an integer 0..10000`) {
		t.Fatalf("bad weight: %v", err)
	}
}

// Every phase the release tool writes is one the proxy shows (proxy.RolloutPhases;
// another is refused as a bad label), and the tool's notion of active is the proxy's.
func TestPhasesAreTheProxys(t *testing.T) {
	active := map[string]bool{PhaseDeploying: true, PhaseSmoke: true, PhaseStepping: true, PhasePaused: true, PhaseResume: true, PhaseAbort: true, PhasePromoted: false, PhaseAborted: false}
	for phase, want := range active {
		if !slices.Contains(proxy.RolloutPhases, phase) {
			t.Errorf("phase %q is not in proxy.RolloutPhases %v", phase, proxy.RolloutPhases)
		}
		if Active(phase) != want {
			t.Errorf("Active(%q) = %v, want %v", phase, !want, want)
		}
	}
}
