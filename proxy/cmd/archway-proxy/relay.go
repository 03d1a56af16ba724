package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/archwayhq/archway/proxy/socketrelay"
)

// proxyUID is the user the archway-proxy image runs as (distroless "nonroot"): the
// relay's socket is given to it by default, so the proxy needs no other setting than
// DOCKER_HOST.
const proxyUID = 65532

// relaySetting is one setting of `archway-proxy relay`: a flag, the environment variable
// read when the flag is not given, and how a value lands in the Config. set returns the
// reason a value is bad, without naming it: the caller names the flag or variable used.
type relaySetting struct {
	flag, env, def, help string
	set                  func(c *socketrelay.Config, v string) error
}

// relaySettings is the relay's whole configuration surface, in usage order.
var relaySettings = []relaySetting{
	{"upstream", "RELAY_UPSTREAM", socketrelay.DefaultUpstream, "the engine's socket: a path, or unix://path",
		func(c *socketrelay.Config, v string) (err error) { c.Upstream, err = socketPath(v); return err }},
	{"listen", "RELAY_LISTEN", socketrelay.DefaultListen, "the relay's socket, in a volume shared with the proxy",
		func(c *socketrelay.Config, v string) (err error) { c.Listen, err = socketPath(v); return err }},
	{"socket-uid", "RELAY_SOCKET_UID", strconv.Itoa(proxyUID), "owner of the relay's socket; -1 leaves the creator (root)",
		func(c *socketrelay.Config, v string) (err error) { c.SocketUID, err = socketID(v, "user"); return err }},
	{"socket-gid", "RELAY_SOCKET_GID", strconv.Itoa(proxyUID), "group of the relay's socket; -1 leaves the creator's",
		func(c *socketrelay.Config, v string) (err error) { c.SocketGID, err = socketID(v, "group"); return err }},
	{"socket-mode", "RELAY_SOCKET_MODE", "0660", "permissions of the relay's socket; connecting needs write",
		func(c *socketrelay.Config, v string) (err error) { c.Mode, err = socketMode(v); return err }},
}

// runRelay is `archway-proxy relay`: the filtering Docker socket relay of package
// socketrelay, run as root on a manager so that the proxy itself need not be. Exit code 2
// for bad configuration, 1 for runtime failure, 0 after SIGINT/SIGTERM or the end of ctx.
func runRelay(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := parseRelay(args, environ)
	if errors.Is(err, flag.ErrHelp) {
		relayUsage(stdout)
		return 0
	}
	if err != nil {
		commandExitLine(stderr, "archway-proxy relay", "%v", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	// The dispatch to runRelay comes before run's own signal handling, and a relay killed
	// by SIGTERM's default action would leave its socket behind: catch both here too
	// (harmless if the caller already does).
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := socketrelay.Run(ctx, cfg); err != nil {
		commandExitLine(stderr, "archway-proxy relay", "%v", err)
		return 1
	}
	return 0
}

// parseRelay reads the settings from args and environ; a flag wins over its variable, and
// an error names whichever of the two gave the bad value.
func parseRelay(args, environ []string) (socketrelay.Config, error) {
	flags := flag.NewFlagSet("archway-proxy relay", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // errors are reported in one line by the caller
	vals := make([]*string, len(relaySettings))
	for i, s := range relaySettings {
		vals[i] = flags.String(s.flag, s.def, s.help)
	}
	var cfg socketrelay.Config
	if err := flags.Parse(args); err != nil {
		return cfg, err
	}
	if flags.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; settings are flags or env vars", flags.Arg(0))
	}
	given := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for i, s := range relaySettings {
		name, v := "-"+s.flag, *vals[i]
		if ev, ok := env[s.env]; ok && !given[s.flag] {
			name, v = s.env, ev
		}
		if err := s.set(&cfg, v); err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", name, v, err)
		}
	}
	return cfg, nil
}

// socketPath accepts an absolute path, or the DOCKER_HOST form unix:///path people copy.
func socketPath(v string) (string, error) {
	p := strings.TrimPrefix(v, "unix://")
	if !filepath.IsAbs(p) {
		return "", errors.New("want an absolute unix socket path like /var/run/docker.sock")
	}
	return filepath.Clean(p), nil
}

func socketID(v, what string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("want a numeric %s id, or -1 to leave it", what)
	}
	return n, nil
}

func socketMode(v string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0o"), 8, 32)
	if err != nil || n == 0 || n > 0o777 {
		return 0, errors.New("want an octal mode like 0660")
	}
	return fs.FileMode(n), nil
}

func relayUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: archway-proxy relay [flags]

A filtering relay for the Docker engine socket. Run it as root on a Swarm manager with the
engine's socket mounted; it creates a socket of its own that the proxy (user %d, no
privileges) uses with DOCKER_HOST=unix://<listen>. It forwards only
  %s
and answers anything else 403 with one log line.

Settings (a flag wins over its environment variable):
`, proxyUID, socketrelay.AllowList())
	for _, s := range relaySettings {
		fmt.Fprintf(w, "  -%-12s %-18s %s (default %s)\n", s.flag, s.env, s.help, s.def)
	}
}
