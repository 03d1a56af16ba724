package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// checkRunner asks, before connecting, whether the engine the runner host names is
// there: the SDK's own connect retries silently for minutes when it is not. The error
// is one line naming the runner host and what to do.
func checkRunner(ctx context.Context, host string) error {
	if host == "" {
		return nil // the CLI's own default (dagger run, a user's install): let it decide
	}
	u, err := url.Parse(host)
	if err != nil {
		return fmt.Errorf("_EXPERIMENTAL_DAGGER_RUNNER_HOST=%q: not a URL: %v", host, err)
	}
	fix := "run `go run ./ci setup` (it starts archway's engine), or point _EXPERIMENTAL_DAGGER_RUNNER_HOST at a running engine"
	switch u.Scheme {
	case "docker-container":
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "inspect", "--format", "{{.State.Running}}", u.Host).CombinedOutput()
		switch {
		case err != nil:
			return fmt.Errorf("the Dagger engine %s: no such container (%s); %s", host, strings.TrimSpace(firstLineOf(string(out))), fix)
		case strings.TrimSpace(string(out)) != "true":
			return fmt.Errorf("the Dagger engine %s is not running: `docker start %s`, or %s", host, u.Host, fix)
		}
	case "unix", "tcp":
		addr := u.Host
		if u.Scheme == "unix" {
			addr = u.Path
		}
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, u.Scheme, addr)
		if err != nil {
			return fmt.Errorf("the Dagger engine %s does not answer (%v); %s", host, err, fix)
		}
		c.Close()
	}
	return nil
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
