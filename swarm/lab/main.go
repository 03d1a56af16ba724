// Command lab runs the mixed-architecture Swarm lab on this machine:
//
//	go run ./swarm/lab up [--arch amd64,386,arm64,arm/v7] [--suite bookworm] [--mirror URL]
//	go run ./swarm/lab status
//	go run ./swarm/lab check [--image REF] [--port N] [--path P]
//	go run ./swarm/lab down
//
// The logic is in package github.com/archwayhq/archway/swarm/lab/lab.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/archwayhq/archway/internal/cli"
	"github.com/archwayhq/archway/swarm/lab/lab"
)

const usage = "usage: lab up [--arch LIST] [--suite NAME] [--mirror URL] | lab status | lab check [--image REF] [--port N] [--path P] | lab down"

// config is the parsed command line.
type config struct {
	cmd    string
	arches []lab.Arch
	suite  string
	mirror string
	image  string
	port   int
	path   string
	// provision: run internal/provision's host steps first (default true).
	provision bool
}

var suiteRe = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// parseArgs parses the command line; every bad value is a one-line error naming it.
func parseArgs(args []string) (config, error) {
	if len(args) == 0 {
		return config{}, errors.New(usage)
	}
	c := config{cmd: args[0]}
	fs := flag.NewFlagSet("lab "+c.cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch c.cmd {
	case "up":
		archFlag := fs.String("arch", lab.DefaultArches, "comma-separated worker architectures")
		fs.StringVar(&c.suite, "suite", "bookworm", "Debian suite of the node images")
		fs.StringVar(&c.mirror, "mirror", defaultMirror(), "Debian mirror (ARCHWAY_DEBIAN_MIRROR)")
		fs.BoolVar(&c.provision, "provision", true, "provision the host first (docker engine, binfmt, registry)")
		if err := fs.Parse(args[1:]); err != nil {
			return config{}, fmt.Errorf("lab up: %w", err)
		}
		arches, err := lab.ParseArchList(*archFlag)
		if err != nil {
			return config{}, fmt.Errorf("lab up: %w", err)
		}
		c.arches = arches
		if !suiteRe.MatchString(c.suite) {
			return config{}, fmt.Errorf("lab up: --suite=%q: want a Debian suite name such as bookworm", c.suite)
		}
		u, err := url.Parse(c.mirror)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return config{}, fmt.Errorf("lab up: --mirror=%q: want an http(s) URL such as http://deb.debian.org/debian", c.mirror)
		}
	case "check":
		fs.StringVar(&c.image, "image", "", "multi-arch image serving GOARCH on :8080 (default: build the lab's probe)")
		fs.IntVar(&c.port, "port", 18090, "host-mode published port")
		fs.StringVar(&c.path, "path", "/", "HTTP path that reports the task's goarch")
		if err := fs.Parse(args[1:]); err != nil {
			return config{}, fmt.Errorf("lab check: %w", err)
		}
		if c.port < 1 || c.port > 65535 {
			return config{}, fmt.Errorf("lab check: --port=%d: want 1-65535", c.port)
		}
		if !strings.HasPrefix(c.path, "/") {
			return config{}, fmt.Errorf("lab check: --path=%q: want an absolute path such as /api/info", c.path)
		}
	case "down", "status":
		if err := fs.Parse(args[1:]); err != nil {
			return config{}, fmt.Errorf("lab %s: %w", c.cmd, err)
		}
	default:
		return config{}, fmt.Errorf("unknown command %q; %s", c.cmd, usage)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("lab %s: unexpected argument %q", c.cmd, fs.Arg(0))
	}
	return c, nil
}

func main() {
	cli.Main("lab",
		func(args []string, _ io.Writer) (config, error) { return parseArgs(args) },
		func(ctx context.Context, c config, _ io.Writer) error { return run(ctx, c) })
}

func run(ctx context.Context, c config) error {
	home, err := lab.Home()
	if err != nil {
		return err
	}
	switch c.cmd {
	case "up":
		repo, err := moduleRoot()
		if err != nil {
			return err
		}
		opts := lab.Options{
			Arches: c.arches, Home: home, RepoDir: repo, Suite: c.suite, Mirror: c.mirror, Out: os.Stdout,
		}
		if c.provision {
			opts.Provision = func(ctx context.Context) error { return lab.ProvisionHost(ctx, os.Stdout) }
		}
		st, err := lab.Up(ctx, opts)
		if err != nil {
			return err
		}
		rows, err := lab.CollectStatus(ctx, st)
		if err != nil {
			return err
		}
		if err := lab.RenderStatus(os.Stdout, rows); err != nil {
			return err
		}
		fmt.Printf("\nPoint a Docker client at the lab:\n  export DOCKER_HOST=%s\n  (or: . %s)\n", st.DockerHost, lab.EnvPath(home))
		fmt.Printf("Registry on the host and on every node: %s\n", st.Registry)
		return nil
	case "status":
		st, err := lab.LoadState(home)
		if errors.Is(err, lab.ErrNoLab) && os.Getenv("DOCKER_HOST") != "" {
			// No lab here: describe the Swarm DOCKER_HOST points at (a real cluster).
			st, err = lab.ClusterState(ctx, os.Getenv("DOCKER_HOST"))
		}
		if err != nil {
			return err
		}
		rows, err := lab.CollectStatus(ctx, st)
		if err != nil {
			return err
		}
		return lab.RenderStatus(os.Stdout, rows)
	case "check":
		return check(ctx, home, c)
	case "down":
		return lab.Down(ctx, home, os.Stdout)
	}
	return fmt.Errorf("unknown command %q", c.cmd)
}

// defaultMirror is ARCHWAY_DEBIAN_MIRROR (shared with internal/provision) or Debian's CDN.
func defaultMirror() string {
	if m := os.Getenv("ARCHWAY_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// moduleRoot finds the directory of this module's go.mod from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the lab from inside the archway module (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// check runs lab.CheckGlobal, building and pushing the probe image first unless --image.
func check(ctx context.Context, home string, c config) error {
	st, err := lab.LoadState(home)
	if err != nil {
		return err
	}
	t0 := time.Now()
	img := c.image
	if img == "" {
		var arches []lab.Arch
		seen := map[string]bool{}
		for _, n := range st.Nodes {
			a, err := lab.ParseArch(n.Arch)
			if err != nil {
				return fmt.Errorf("state: node %s: %w", n.Name, err)
			}
			if !seen[a.Name] {
				seen[a.Name] = true
				arches = append(arches, a)
			}
		}
		repo, err := moduleRoot()
		if err != nil {
			return err
		}
		host, err := lab.HostClient()
		if err != nil {
			return err
		}
		defer host.Close()
		if img, err = lab.BuildProbe(ctx, host, home, repo, "latest", arches); err != nil {
			return err
		}
		fmt.Printf("built and pushed %s for %d platforms in %.1fs\n", img, len(arches), time.Since(t0).Seconds())
	}
	res, took, err := lab.CheckGlobal(ctx, st, img, c.port, c.path, 5*time.Minute)
	fmt.Printf("global service %s: %d tasks running %.1fs after create\n", img, len(res), took.Seconds())
	for _, r := range res {
		body := r.Body
		if len(body) > 60 {
			body = body[:60] + "…"
		}
		fmt.Printf("  %-20s %-15s engine=%-6s task goarch=%-6s ok=%-5v %s\n", r.Node, r.Addr, r.Expect, r.Got, r.OK, body)
	}
	return err
}
