// Package socketrelay is a filtering relay for the Docker engine API: it listens on a unix
// socket of its own and forwards to the engine's socket only the read-only calls that the
// Swarm provider (package proxy/swarmprovider) makes; everything else is answered 403.
//
// It exists so that archway-proxy need not run as root with /var/run/docker.sock mounted:
// access to the engine socket, even bind-mounted read-only, is root on the host (POST
// /containers/create with a bind mount of / is enough), so a compromised proxy would own the
// manager. With the relay, only the relay (small, and it reads nothing of a request but its
// line and headers) touches the real socket, and the proxy runs as an unprivileged user on
// the relay's socket.
//
// Handler is the filter itself, usable on any listener and in tests; Run is the whole
// relay process: check the engine, create the socket, serve until the context ends.
package socketrelay
