// Package tests is archway's integration suite: `go test ./tests` against the Swarm in
// DOCKER_HOST or the lab ($ARCHWAY_HOME/lab/state.json). It deploys the multi-arch app and
// the proxy (Swarm provider mode) as services and checks the whole path: index → per-node
// image → weighted proxy → app. Without a reachable Swarm every test skips with one line
// saying how to start the lab (ARCHWAY_REQUIRE_SWARM=1 makes that a failure).
package tests
