package main

import (
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/swarmprovider"
)

// The Swarm provider registers itself here rather than in main.go's map literal, so that
// this file is all the proxy binary needs to know about it.
func init() { providers["swarm"] = swarmProvider }

// swarmProvider follows services labelled archway.color/archway.weight on the Swarm whose
// manager DOCKER_HOST (default: the local socket) names, and shows the rollout their
// archway.release label reports. Settings: ARCHWAY_SWARM_GROUP, ARCHWAY_SWARM_NETWORK,
// ARCHWAY_SWARM_RESYNC (see proxy/swarmprovider), from the environment or the CONFIG file.
func swarmProvider(e providerEnv) (proxy.Provider, error) {
	var sc swarmprovider.Config
	if err := sc.FromEnv(e.cfg.Lookup); err != nil {
		return nil, err
	}
	prov, err := swarmprovider.New(sc, e.log)
	if err != nil {
		return nil, err
	}
	prov.OnRollout = e.rollout
	return prov, nil
}
