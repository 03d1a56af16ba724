package main

import (
	"context"
)

// unitPackages lists the module's packages minus the integration suite (./tests,
// which needs a live Swarm). This stage is the one place unit tests run in
// `go tool task test`: the pipeline's hermetic container (the pinned base, with the
// nginx and HAProxy the load-bench config tests check against), cached by the engine,
// and gating publish.
const unitPackages = `go list ./... | grep -v -e '/tests$' -e '/tests/'`

// Test runs the unit tests natively with the race detector (cgo: gcc is in the base).
func (a *Archway) Test(ctx context.Context) error {
	_, err := a.goBase.
		WithEnvVariable("CGO_ENABLED", "1").
		WithExec([]string{"sh", "-c", "set -e; pkgs=$(" + unitPackages + "); go test -race $pkgs"}).
		Sync(ctx)
	if err != nil {
		return execFailure("test: go test -race", err)
	}
	return nil
}
