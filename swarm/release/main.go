// Command release is progressive delivery on the Swarm: it deploys an image to the idle
// colour, steps its weight through a plan, judges every step per colour and per CPU
// architecture from the proxy's statistics, and promotes the release or rolls it back.
//
//	go run ./swarm/release [flags] start     release -image on the idle colour (the default command)
//	go run ./swarm/release status            the group's release, from its service labels
//	go run ./swarm/release resume            promote a paused release, or continue an abandoned one
//	go run ./swarm/release abort             put the stable colour back in charge
//
// The cluster is DOCKER_HOST when set, else the lab's ($ARCHWAY_HOME/lab/state.json).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/archwayhq/archway/internal/cli"
	"github.com/archwayhq/archway/swarm/delivery"
	"github.com/archwayhq/archway/swarm/lab/lab"
	"github.com/archwayhq/archway/swarm/rollout"
)

type options struct {
	rollout.Flags
	cmd      string
	spec     delivery.Spec
	plan     delivery.Plan
	override string
	caFile   string
	tls      bool
}

const usage = `usage: release [flags] [start|status|resume|abort]

  start    deploy -image to the idle colour (weight 0), smoke-test every architecture through
           the proxy, step the canary through -steps, judging each step; promote, or abort to
           the stable colour with a one-line reason and exit 1 (the default command)
  status   the group's latest release from its service labels, from any machine
  resume   let a release paused by -pause promote; continue a release whose process died
  abort    end the active release on the stable colour (its owner is asked, or it is done here)

flags:
`

// envFlag collects -env NAME=value.
type envFlag map[string]string

func (e envFlag) String() string { return "" }
func (e envFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want NAME=value", s)
	}
	e[k] = v
	return nil
}

func parse(args []string, stderr io.Writer) (options, error) {
	o := options{plan: delivery.DefaultPlan()}
	env := envFlag{}
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	o.Register(fs)
	fs.StringVar(&o.spec.Image, "image", os.Getenv("IMAGE"), "image to release, e.g. 127.0.0.1:5000/archway/app:v2 (env IMAGE)")
	fs.Var(env, "env", "NAME=value set on the canary's tasks for this release (repeatable), e.g. -env FAIL_RATE=0.03")
	steps := fs.String("steps", "5,25,50,100", "canary percentages, rising, ending at 100")
	fs.DurationVar(&o.plan.Hold, "hold", o.plan.Hold, "least time per step")
	fs.DurationVar(&o.plan.MaxWait, "max-wait", o.plan.MaxWait, "a step still inconclusive after this aborts")
	fs.BoolVar(&o.plan.Pause, "pause", false, "wait for `resume` before the promotion")
	fs.Uint64Var(&o.plan.MinRequests, "min-requests", o.plan.MinRequests, "least canary requests per step window before the colour is judged")
	fs.Uint64Var(&o.plan.MinPlatformRequests, "min-platform-requests", o.plan.MinPlatformRequests, "least canary requests per architecture before it is judged")
	fs.Float64Var(&o.plan.MinSuccess, "min-success", o.plan.MinSuccess, "least share of canary attempts neither 5xx nor failed, per colour and per architecture")
	fs.DurationVar(&o.plan.MaxP99, "max-p99", o.plan.MaxP99, "the canary's p99 latency bound")
	fs.Float64Var(&o.plan.MaxP99Ratio, "max-p99-ratio", o.plan.MaxP99Ratio, "the canary's p99 bound against the stable colour's on the same architecture")
	fs.DurationVar(&o.plan.P99Slack, "p99-slack", o.plan.P99Slack, "added to the stable p99 before -max-p99-ratio applies")
	fs.StringVar(&o.override, "override-header", "X-Archway-Color", "the proxy's OVERRIDE_HEADER, to reach the idle canary before users do")
	fs.BoolVar(&o.tls, "tls", false, "the proxy's data port serves HTTPS (swarm/stack.tls.yml)")
	fs.StringVar(&o.caFile, "ca-file", "", "CA to trust with -tls (default $ARCHWAY_HOME/tls/ca.crt, the demo's)")
	if err := cli.Parse(fs, args, usage, stderr); err != nil {
		return o, err
	}
	var err error
	if o.plan.Steps, err = delivery.ParseSteps(*steps); err != nil {
		return o, err
	}
	if len(env) > 0 {
		o.spec.Env = env
	}
	if err := o.Resolve(); err != nil {
		return o, err
	}
	home, err := lab.Home()
	if err != nil {
		return o, err
	}
	if o.caFile == "" {
		o.caFile = filepath.Join(home, "tls", "ca.crt")
	}
	o.cmd = "start"
	switch rest := fs.Args(); {
	case len(rest) > 1:
		return o, fmt.Errorf("unexpected argument %q after %q", rest[1], rest[0])
	case len(rest) == 1:
		o.cmd = rest[0]
	}
	switch o.cmd {
	case "start":
		if err := o.plan.Validate(); err != nil {
			return o, err
		}
		if err := o.spec.Validate(); err != nil {
			return o, err
		}
	case "status", "resume", "abort":
	default:
		return o, fmt.Errorf("command %q: want start, status, resume or abort", o.cmd)
	}
	return o, nil
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	cli, host, err := rollout.Connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	s := o.Session(cli, stdout, o.tls)
	if o.tls {
		if s.HTTP.Transport, err = rollout.TrustCA(o.caFile); err != nil {
			return fmt.Errorf("-ca-file: %w", err)
		}
	}
	if s.AdminToken, err = rollout.ReadAdminToken(o.AdminTokenFile); err != nil && o.cmd != "status" {
		return fmt.Errorf("%w (the token the stack's archway_admin_token secret was created from: -admin-token-file)", err)
	}
	r := &delivery.Releaser{API: cli, Session: s, Plan: o.plan, OverrideHeader: o.override, Out: stdout, VerifyKey: o.VerifyKey}
	fmt.Fprintf(stdout, "cluster: %s\n", host)
	switch o.cmd {
	case "status":
		return r.Status(ctx)
	case "abort":
		return r.Abort(ctx)
	case "resume":
		return r.Resume(ctx)
	}
	return r.Release(ctx, o.spec)
}

func main() { cli.Main("release", parse, run) }
