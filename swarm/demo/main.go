// Command demo drives the archway stack on a Swarm: deploy it, show which architecture
// answers through which colour, and roll weights canary → promote → rollback.
//
//	go run ./swarm/demo [flags] [run|deploy|show|canary|promote|rollback|weights blue=4,green=1]
//
// The cluster is DOCKER_HOST when set, else the lab's ($ARCHWAY_HOME/lab/state.json).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/archwayhq/archway/internal/cli"
	"github.com/archwayhq/archway/swarm/lab/lab"
	"github.com/archwayhq/archway/swarm/rollout"
)

type options struct {
	rollout.Flags
	file, registry, tag   string
	adminFile, secret     string
	n                     int
	deploy, tls, releases bool
	tlsFile               string
	cmd                   string
	weights               rollout.Weights
}

const usage = `usage: demo [flags] [command]

commands:
  run       deploy (unless -deploy=false), show, canary → promote → rollback under load, then two
            progressive releases (unless -releases=false): one promoted, one rolled back (default)
  deploy    docker stack deploy swarm/stack.yml and wait until it serves
  show      N requests through the proxy: platform × colour table
  canary    weights blue=4,green=1      promote   blue=0,green=1      rollback   blue=1,green=0
  weights W set arbitrary weights, e.g. "weights blue=9,green=1"

flags:
`

func parse(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	o.Register(fs)
	fs.StringVar(&o.file, "file", "swarm/stack.yml", "stack file")
	fs.StringVar(&o.adminFile, "admin-file", "swarm/stack.admin.yml", `second stack file publishing the admin API (with its token); "" keeps it unpublished`)
	fs.StringVar(&o.secret, "admin-secret", envOr("ADMIN_TOKEN_SECRET", rollout.AdminSecret), "Docker secret the stack reads the admin token from (env ADMIN_TOKEN_SECRET)")
	fs.StringVar(&o.registry, "registry", envOr("ARCHWAY_REGISTRY", "127.0.0.1:5000"), "registry of the images (env ARCHWAY_REGISTRY)")
	fs.StringVar(&o.tag, "tag", envOr("ARCHWAY_TAG", "latest"), "image tag (env ARCHWAY_TAG)")
	fs.IntVar(&o.n, "n", 1000, "requests per measurement (a multiple of every weight sum: 1000)")
	fs.BoolVar(&o.deploy, "deploy", true, "run: deploy the stack first")
	fs.BoolVar(&o.releases, "releases", true, "run: end with two progressive releases (a good one promoted, one failing on one architecture rolled back)")
	fs.BoolVar(&o.tls, "tls", false, "HTTPS on the proxy's data port: a demo CA and certificate for the nodes' addresses ($ARCHWAY_HOME/tls), the secrets, and -tls-file")
	fs.StringVar(&o.tlsFile, "tls-file", "swarm/stack.tls.yml", "stack file adding TLS to the proxy (with -tls)")
	if err := cli.Parse(fs, args, usage, stderr); err != nil {
		return o, err
	}
	if err := o.Resolve(); err != nil {
		return o, err
	}
	if o.n <= 0 {
		return o, fmt.Errorf("-n=%d: want a positive number of requests", o.n)
	}
	rest := fs.Args()
	o.cmd = "run"
	if len(rest) > 0 {
		o.cmd = rest[0]
	}
	switch o.cmd {
	case "run", "deploy", "show":
	case "canary", "promote", "rollback":
		for _, st := range rollout.Rollout {
			if st.Name == o.cmd {
				o.weights = st.Weights
			}
		}
	case "weights":
		if len(rest) < 2 {
			return o, errors.New(`weights: missing argument, e.g. "weights blue=9,green=1"`)
		}
		w, err := rollout.ParseWeights(rest[1])
		if err != nil {
			return o, err
		}
		o.weights = w
	default:
		return o, fmt.Errorf("command %q: want run, deploy, show, canary, promote, rollback or weights", o.cmd)
	}
	return o, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	cli, host, err := rollout.Connect()
	if err != nil {
		return err
	}
	defer cli.Close()
	s := o.Session(cli, stdout, o.tls)
	var cert rollout.DemoCert
	if o.tls {
		if cert, err = demoCert(ctx, cli); err != nil {
			return err
		}
		if s.HTTP.Transport, err = rollout.TrustCA(cert.CAFile); err != nil {
			return fmt.Errorf("demo %w", err)
		}
	}
	fmt.Fprintf(stdout, "cluster: %s\n", host)
	if o.cmd != "run" && o.cmd != "deploy" {
		// The other commands read the token the deploy left, as an operator would.
		if s.AdminToken, err = rollout.ReadAdminToken(o.AdminTokenFile); err != nil {
			return fmt.Errorf("%w (deploy first: go run ./swarm/demo deploy)", err)
		}
	}
	switch o.cmd {
	case "deploy":
		return deploy(ctx, s, o, host, cli, cert)
	case "run":
		if o.deploy {
			if err := deploy(ctx, s, o, host, cli, cert); err != nil {
				return err
			}
		}
		if _, err := s.Demo(ctx, o.n); err != nil {
			return err
		}
		if o.releases {
			if err := releases(ctx, s, cli, o.registry+"/archway/app:"+o.tag, o.VerifyKey); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "\napp page through the proxy:  %s/\nproxy status (JSON):         curl -H \"Authorization: Bearer $(cat %s)\" %s/status\nproxy metrics:               … %s/metrics\n",
			s.ProxyURL, o.AdminTokenFile, s.AdminURL, s.AdminURL)
		if o.tls {
			fmt.Fprintf(stdout, "over TLS:                    curl --cacert %s [--http2] %s/api/info\n", cert.CAFile, s.ProxyURL)
		}
		return nil
	case "show":
		if err := s.Locate(ctx); err != nil {
			return err
		}
		st, err := rollout.ProxyStatus(ctx, s.HTTP, s.AdminURL, s.AdminToken)
		if err != nil {
			return err
		}
		w := rollout.Weights{}
		for _, b := range st.Backends {
			w[strings.ToLower(b.Name)] = b.Weight
		}
		fmt.Fprintf(stdout, "proxy %s serves %s\n", s.ProxyURL, w)
		_, err = s.Measure(ctx, o.n, w)
		return err
	default:
		fmt.Fprintf(stdout, "%s: weights %s\n", o.cmd, o.weights)
		return s.Shift(ctx, o.weights)
	}
}

// demoCert makes (once) the demo's CA and a certificate naming every node's address.
func demoCert(ctx context.Context, cli *client.Client) (rollout.DemoCert, error) {
	home, err := lab.Home()
	if err != nil {
		return rollout.DemoCert{}, err
	}
	nodes, err := cli.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return rollout.DemoCert{}, fmt.Errorf("list nodes: %w", err)
	}
	hosts := []string{"localhost", "127.0.0.1"}
	for _, n := range nodes {
		if n.Status.Addr != "" {
			hosts = append(hosts, n.Status.Addr)
		}
	}
	return rollout.EnsureDemoCert(filepath.Join(home, "tls"), hosts)
}

// tlsSecrets creates the certificate's secrets (unless they exist).
func tlsSecrets(ctx context.Context, s *rollout.Session, api rollout.SecretAPI, cert rollout.DemoCert) error {
	if cert.Created {
		fmt.Fprintf(s.Out, "==> demo CA and certificate: created %s\n", cert.Dir)
	}
	for _, f := range []struct{ secret, file string }{{rollout.TLSCertSecret, cert.CertFile}, {rollout.TLSKeySecret, cert.KeyFile}} {
		data, err := os.ReadFile(f.file)
		if err != nil {
			return fmt.Errorf("demo certificate: %w", err)
		}
		made, err := rollout.EnsureSecret(ctx, api, f.secret, data, f.file, cert.Created)
		if err != nil {
			return err
		}
		if made {
			fmt.Fprintf(s.Out, "==> docker secret create %s %s\n", f.secret, f.file)
		}
	}
	return nil
}

func deploy(ctx context.Context, s *rollout.Session, o options, host string, api rollout.SecretAPI, cert rollout.DemoCert) error {
	env := map[string]string{"REGISTRY": o.registry, "TAG": o.tag, "GROUP": o.Group, "ADMIN_TOKEN_SECRET": o.secret}
	if o.VerifyKey != "" {
		// Before anything changes in the cluster: both indexes signed by the pipeline's
		// key, and the stack pinned to the digests that were checked.
		for _, img := range []struct{ name, env string }{{"app", "APP_DIGEST"}, {"proxy", "PROXY_DIGEST"}} {
			ref := o.registry + "/archway/" + img.name + ":" + o.tag
			d, err := rollout.VerifiedImage(ctx, ref, o.VerifyKey)
			if err != nil {
				return err
			}
			env[img.env] = "@" + d
			fmt.Fprintf(s.Out, "==> %s: signature verified with %s (index %s and every platform)\n", ref, o.VerifyKey, d)
		}
	}
	tok, created, err := rollout.EnsureAdminToken(o.AdminTokenFile)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(s.Out, "==> admin token: created %s (0600)\n", o.AdminTokenFile)
	}
	made, err := rollout.EnsureAdminSecret(ctx, api, o.secret, tok, o.AdminTokenFile, created)
	if err != nil {
		return err
	}
	if made {
		fmt.Fprintf(s.Out, "==> docker secret create %s %s\n", o.secret, o.AdminTokenFile)
	}
	s.AdminToken = tok
	files := []string{o.file}
	if o.adminFile != "" {
		files = append(files, o.adminFile)
	}
	if o.tls {
		if err := tlsSecrets(ctx, s, api, cert); err != nil {
			return err
		}
		files = append(files, o.tlsFile)
	}
	fmt.Fprintf(s.Out, "==> docker stack deploy -c %s %s (images %s/archway/{app,proxy}:%s)\n", strings.Join(files, " -c "), o.Stack, o.registry, o.tag)
	out, err := rollout.DeployStack(ctx, rollout.StackOptions{
		Files: files, Name: o.Stack, DockerHost: host,
		Env: env,
	})
	if err != nil {
		return err
	}
	fmt.Fprint(s.Out, indent(out))
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}

func main() { cli.Main("demo", parse, run) }
