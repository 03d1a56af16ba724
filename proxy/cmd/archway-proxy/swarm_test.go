package main

import (
	"log/slog"
	"testing"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/swarmprovider"
)

// TestSwarmProviderShowsRollouts: the swarm provider is wired to hand the rollout it
// reads to the proxy (providerEnv.rollout, SetRollout in run).
func TestSwarmProviderShowsRollouts(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1") // never contacted: no Run
	var got *proxy.Rollout
	prov, err := providers["swarm"](providerEnv{cfg: &proxy.Config{Lookup: noVars}, log: slog.New(slog.DiscardHandler), rollout: func(r *proxy.Rollout) { got = r }})
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := prov.(*swarmprovider.Provider)
	if !ok || sp.OnRollout == nil {
		t.Fatalf("provider %T without OnRollout", prov)
	}
	sp.OnRollout(&proxy.Rollout{Release: "r-1"})
	if got == nil || got.Release != "r-1" {
		t.Fatalf("OnRollout reached %+v", got)
	}
}

func noVars(string) (string, bool) { return "", false }
