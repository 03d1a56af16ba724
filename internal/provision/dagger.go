package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Dagger engine paths: how setup made a Dagger engine available.
const (
	PathEnv    = "env"    // _EXPERIMENTAL_DAGGER_RUNNER_HOST was set by the user
	PathPublic = "public" // a dagger CLI of the pinned version whose own engine answers
	PathBuilt  = "built"  // CLI + engine built here from the Go module proxy
)

// daggerBuild is the recipe for building the CLI and engine from the module proxy;
// it is hashed so a change to any of it (or to the Go toolchain) triggers a rebuild.
var daggerBuild = struct {
	Tags     string
	Packages []string
}{
	Tags: "dfexcludepatterns dfparents",
	Packages: []string{
		"github.com/dagger/dagger/cmd/engine",
		"github.com/dagger/dagger/cmd/shim",
		"github.com/dagger/dagger/cmd/dialstdio",
		"github.com/dagger/dagger/cmd/dnsname",
		"github.com/dagger/dagger/cmd/dagger",
		"github.com/containernetworking/plugins/plugins/main/bridge",
		"github.com/containernetworking/plugins/plugins/main/loopback",
		"github.com/containernetworking/plugins/plugins/meta/firewall",
		"github.com/containernetworking/plugins/plugins/ipam/host-local",
	},
}

func daggerLdflags() string {
	return "-s -w -X github.com/dagger/dagger/engine.Version=" + DaggerVersion
}

const engineTOML = "insecure-entitlements = [\"security.insecure\"]\n"

// engineEntrypoint prepares the container for buildkit without --privileged, starts
// the registry forwarder, then execs the engine.
const engineEntrypoint = `#!/bin/sh
set -e
# Without --privileged docker mounts sysfs and cgroupfs read-only: remount them
# read-write (needs CAP_SYS_ADMIN + apparmor=unconfined).
if awk '($3=="cgroup" || $3=="cgroup2") && $4 ~ /^ro/ {f=1} END {exit !f}' /proc/mounts; then
	mount -o remount,rw /sys || echo "warning: cannot remount /sys rw"
	for m in $(awk '($3=="cgroup" || $3=="cgroup2") && $4 ~ /^ro/ {print $2}' /proc/mounts); do
		mount -o remount,bind,rw "$m" 2>/dev/null || mount -o remount,rw "$m" || echo "warning: cannot remount $m rw"
	done
fi
# cgroup v2: enable nesting (from the official engine entrypoint)
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	mkdir -p /sys/fs/cgroup/init
	xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs || :
	sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
fi
# The project's registry is 127.0.0.1:PORT everywhere: forward it to the host's
# published port through the bridge gateway.
if [ -n "$ARCHWAY_REGISTRY_FORWARD" ]; then
	gw=$(ip route | awk '/^default/ {print $3; exit}')
	socat TCP-LISTEN:"$ARCHWAY_REGISTRY_FORWARD",bind=127.0.0.1,fork,reuseaddr TCP:"$gw":"$ARCHWAY_REGISTRY_FORWARD" &
fi
exec /usr/local/bin/dagger-engine --config /etc/dagger/engine.toml "$@"
`

// InputHash identifies a Dagger CLI+engine build: version, build recipe, engine
// rootfs recipe, entrypoint, engine config and the Go toolchain version.
func InputHash(goVersion string) string {
	h := sha256.New()
	fmt.Fprintf(h, "version=%s\ngo=%s\ntags=%s\nldflags=%s\n", DaggerVersion, goVersion, daggerBuild.Tags, daggerLdflags())
	fmt.Fprintf(h, "packages=%s\nrootfs=%s\n", strings.Join(daggerBuild.Packages, ","), EngineRootfs.Key())
	fmt.Fprintf(h, "entrypoint=%s\ntoml=%s\n", engineEntrypoint, engineTOML)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// DaggerPlan is the outcome of PlanDagger.
type DaggerPlan struct {
	Path       string // PathEnv, PathPublic or PathBuilt
	RunnerHost string // "" = the CLI's own default
	CLI        string // the CLI to use for `dagger run`
	Build      bool
	Hash       string
}

var versionRE = regexp.MustCompile(`\bv\d+\.\d+\.\d+\b`)

// PlanDagger decides which Dagger engine the pipeline uses: the one the environment
// names, a public CLI+engine of the pinned version if it answers, else one built here.
func (p *Provisioner) PlanDagger(ctx context.Context) (DaggerPlan, error) {
	if rh := p.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"); rh != "" && rh != RunnerHost && !p.Cfg.ForceBuildEngine {
		cli := p.Getenv("_EXPERIMENTAL_DAGGER_CLI_BIN")
		if cli == "" {
			cli = p.Cfg.SDKCLIPath()
		}
		if _, err := os.Stat(cli); err != nil {
			if lp, err := p.Run.LookPath("dagger"); err == nil {
				cli = lp
			} else {
				return DaggerPlan{}, fmt.Errorf("_EXPERIMENTAL_DAGGER_RUNNER_HOST=%s is set but no dagger CLI %s is at %s or on PATH: install it or unset the variable to build one", rh, DaggerVersion, p.Cfg.SDKCLIPath())
			}
		}
		p.say("dagger", "using engine from the environment: _EXPERIMENTAL_DAGGER_RUNNER_HOST=%s, CLI %s (nothing built)", rh, cli)
		return DaggerPlan{Path: PathEnv, RunnerHost: rh, CLI: cli}, nil
	}
	if !p.Cfg.ForceBuildEngine {
		if plan, ok := p.probePublicDagger(ctx); ok {
			return plan, nil
		}
	}
	gov, err := p.Run.Run(ctx, nil, nil, "go", "env", "GOVERSION")
	if err != nil {
		return DaggerPlan{}, fmt.Errorf("go env GOVERSION: %w (Go must be on PATH to build the Dagger CLI and engine)", err)
	}
	return DaggerPlan{Path: PathBuilt, RunnerHost: RunnerHost, CLI: p.Cfg.CLIPath(), Build: true, Hash: InputHash(gov)}, nil
}

// probePublicDagger accepts a dagger CLI on PATH (not ours) of the pinned version if
// its default engine answers a query within 2 minutes (which may pull its image).
func (p *Provisioner) probePublicDagger(ctx context.Context) (DaggerPlan, bool) {
	cli, err := p.Run.LookPath("dagger")
	if err != nil || cli == p.Cfg.CLIPath() {
		p.say("dagger", "no public dagger CLI on PATH: using %s built here from the Go module proxy (fallback)", DaggerVersion)
		return DaggerPlan{}, false
	}
	out, err := p.Run.Run(ctx, nil, nil, cli, "version")
	if err != nil || versionRE.FindString(out) != DaggerVersion {
		p.say("dagger", "%s is %q, not %s: building %s here (fallback)", cli, versionRE.FindString(out), DaggerVersion, DaggerVersion)
		return DaggerPlan{}, false
	}
	qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := p.Run.Run(qctx, []string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST="}, strings.NewReader("{version}"), cli, "query", "--progress", "plain"); err != nil {
		p.say("dagger", "%s found but its engine does not answer (%s): building %s here (fallback)", cli, shortErr(err), DaggerVersion)
		return DaggerPlan{}, false
	}
	p.say("dagger", "using public CLI %s and its own engine (nothing built)", cli)
	return DaggerPlan{Path: PathPublic, CLI: cli}, true
}

func (c Config) daggerDir(hash string) string {
	return c.path("dagger", DaggerVersion+"-"+hash)
}

// goModDir returns the module-cache directory of mod@version.
func (p *Provisioner) goModDir(ctx context.Context, env []string, wrapper, modver string) (string, error) {
	out, err := p.Run.Run(ctx, env, nil, "go", "-C", wrapper, "mod", "download", "-json", modver)
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w (needs the Go module proxy)", modver, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modver, err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", modver, m.Error)
	}
	return m.Dir, nil
}

// WrapperGoMod is the throw-away module that builds github.com/dagger/dagger: it
// requires dagger at the pinned version, points the SDK's local replace at the
// published SDK and keeps dagger's module→module replaces (the buildkit fork).
func WrapperGoMod(goVersion, daggerGoMod string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "module local/daggerbuild\n\ngo %s\n\nrequire github.com/dagger/dagger %s\n\n", goVersion, DaggerVersion)
	fmt.Fprintf(&b, "replace dagger.io/dagger => dagger.io/dagger %s\n", DaggerVersion)
	inBlock := false
	for _, line := range strings.Split(daggerGoMod, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "replace (":
			inBlock = true
			continue
		case inBlock && t == ")":
			inBlock = false
			continue
		case inBlock:
			t = "replace " + t
		case !strings.HasPrefix(t, "replace "):
			continue
		}
		if i := strings.Index(t, "//"); i >= 0 {
			t = strings.TrimSpace(t[:i])
		}
		parts := strings.SplitN(t, "=>", 2)
		if len(parts) != 2 {
			continue
		}
		target := strings.TrimSpace(parts[1])
		if strings.HasPrefix(target, ".") || strings.HasPrefix(target, "/") {
			continue // local paths are not in the module zip
		}
		if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(parts[0], "replace ")), "dagger.io/dagger") {
			continue
		}
		b.WriteString(t + "\n")
	}
	return b.String()
}

var goDirectiveRE = regexp.MustCompile(`(?m)^go (\S+)`)

// BuildDaggerBinaries compiles the CLI, engine, shim, dial-stdio, dnsname and CNI
// plugins into ARCHWAY_HOME/dagger/<version>-<hash>/out, unless already there.
func (p *Provisioner) BuildDaggerBinaries(ctx context.Context, plan DaggerPlan) (string, error) {
	dir := p.Cfg.daggerDir(plan.Hash)
	out := filepath.Join(dir, "out")
	if _, err := os.Stat(filepath.Join(out, ".done")); err == nil {
		p.say("dagger", "CLI+engine %s binaries (cached, recipe %s)", DaggerVersion, plan.Hash)
		return out, nil
	}
	t0 := time.Now()
	p.say("dagger", "building CLI+engine %s from the Go module proxy in %s (cold: a few minutes)", DaggerVersion, dir)
	wrapper := filepath.Join(dir, "wrapper")
	if err := os.MkdirAll(wrapper, 0o755); err != nil {
		return "", err
	}
	env := []string{"GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOSUMDB=off", "GOWORK=off"}
	daggerDir, err := p.goModDir(ctx, env, wrapper, "github.com/dagger/dagger@"+DaggerVersion)
	if err != nil {
		return "", err
	}
	sdkDir, err := p.goModDir(ctx, env, wrapper, "dagger.io/dagger@"+DaggerVersion)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(daggerDir, "engine", "distconsts", "consts.go")); err != nil {
		return "", fmt.Errorf("dagger %s has no in-module engine/distconsts: only <= v0.11.4 builds from the module proxy", DaggerVersion)
	}
	gomod, err := os.ReadFile(filepath.Join(daggerDir, "go.mod"))
	if err != nil {
		return "", err
	}
	gov := "1.21"
	if m := goDirectiveRE.FindSubmatch(gomod); m != nil {
		gov = string(m[1])
	}
	if err := os.WriteFile(filepath.Join(wrapper, "go.mod"), []byte(WrapperGoMod(gov, string(gomod))), 0o644); err != nil {
		return "", err
	}
	// The checksum database is not reachable everywhere: seed go.sum from dagger's and
	// the SDK's own go.sum (GOSUMDB=off then trusts exactly these).
	sum1, err1 := os.ReadFile(filepath.Join(daggerDir, "go.sum"))
	sum2, err2 := os.ReadFile(filepath.Join(sdkDir, "go.sum"))
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("read dagger go.sum: %v %v", err1, err2)
	}
	if err := os.WriteFile(filepath.Join(wrapper, "go.sum"), append(sum1, sum2...), 0o644); err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	args := append([]string{"-C", wrapper, "build", "-o", out + "/", "-trimpath", "-tags", daggerBuild.Tags, "-ldflags", daggerLdflags()}, daggerBuild.Packages...)
	if _, err := p.Run.Run(ctx, env, nil, "go", args...); err != nil {
		return "", fmt.Errorf("build dagger %s: %w", DaggerVersion, err)
	}
	if err := os.WriteFile(filepath.Join(out, ".done"), []byte(plan.Hash+"\n"), 0o644); err != nil {
		return "", err
	}
	p.say("dagger", "built CLI+engine %s in %.0fs", DaggerVersion, time.Since(t0).Seconds())
	return out, nil
}
