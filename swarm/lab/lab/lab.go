package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/archwayhq/archway/internal/provision"
)

// Registry is where every engine of the lab (and the host) reaches the local registry.
const Registry = "127.0.0.1:5000"

// Options configure Up.
type Options struct {
	// Arches are the workers to run, one node each. The manager is always amd64 (native).
	Arches []Arch
	// Home is ARCHWAY_HOME (see Home).
	Home string
	// RepoDir is the module root, where the helpers are built.
	RepoDir string
	// Suite and Mirror select the Debian packages of the node images.
	Suite, Mirror string
	// Out receives human progress lines; nil discards them.
	Out io.Writer
	// Provision, when set, runs first and makes sure the host engine, binfmt and the
	// registry are up (internal/provision). The lab itself only checks them.
	Provision func(ctx context.Context) error
	// EngineTimeout bounds the wait for one node's engine (emulated ones are slow).
	EngineTimeout time.Duration
}

type progress struct {
	mu  sync.Mutex
	out io.Writer
	t0  time.Time
}

func (p *progress) printf(format string, args ...any) {
	if p.out == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.t0).Seconds(), fmt.Sprintf(format, args...))
}

// HostClient returns a client for the engine of this machine, where the lab runs its node
// containers. The lab is for one machine: DOCKER_HOST is honoured only when it names a
// local socket (unix://…); a tcp:// DOCKER_HOST — the lab's own manager after
// `. $ARCHWAY_HOME/lab/env`, or a real cluster — is where deployments go, not the lab.
func HostClient() (*client.Client, error) {
	opts := []client.Opt{client.WithHost(hostEngine(os.Getenv("DOCKER_HOST"))), client.WithAPIVersionNegotiation()}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

// hostEngine picks the engine address of this machine from a DOCKER_HOST value.
func hostEngine(dockerHost string) string {
	if strings.HasPrefix(dockerHost, "unix://") {
		return dockerHost
	}
	return client.DefaultDockerHost
}

// Up brings the lab to the requested shape and returns its state (also written to
// $ARCHWAY_HOME/lab). It is idempotent: on a running lab it checks and repairs.
// Architectures the machine cannot run are reported on Out and left out; Up fails only
// when the manager cannot run or no requested node comes up.
func Up(ctx context.Context, o Options) (State, error) {
	p := &progress{out: o.Out, t0: time.Now()}
	if o.EngineTimeout == 0 {
		o.EngineTimeout = 3 * time.Minute
	}
	if o.Provision != nil {
		p.printf("provisioning host")
		if err := o.Provision(ctx); err != nil {
			return State{}, fmt.Errorf("provision: %w", err)
		}
	}
	host, err := HostClient()
	if err != nil {
		return State{}, err
	}
	defer host.Close()
	gw, err := checkHost(ctx, host, p)
	if err != nil {
		return State{}, err
	}
	native, arches, err := runnableArches(o.Arches, p)
	if err != nil {
		return State{}, err
	}
	b := &Builder{Docker: host, Home: o.Home, RepoDir: o.RepoDir, Suite: o.Suite, Mirror: o.Mirror, HostArch: runtime.GOARCH, Progress: p.printf}
	images, err := nodeImages(ctx, b, native, arches, p)
	if err != nil {
		return State{}, err
	}
	specs := nodeSpecs(native, arches, images)
	if err := removeUnwanted(ctx, host, specs, p); err != nil {
		return State{}, err
	}
	sc := startConfig{privileged: detectPrivileged(), registry: gw + ":5000", engineTimeout: o.EngineTimeout}
	if !sc.privileged {
		p.printf("nodes run without --privileged (the engine cannot grant every capability here): all caps but SYS_RESOURCE, unconfined")
	}
	started, mgrAddr, err := startNodes(ctx, host, specs, sc, p)
	if err != nil {
		return State{}, err
	}
	st, err := registerNodes(ctx, mgrAddr, started, p)
	if err != nil {
		return State{}, err
	}
	if err := SaveState(o.Home, st); err != nil {
		return st, err
	}
	if err := b.WaitSaves(); err != nil {
		// The lab runs; only the restore-after-wipe cache is missing.
		p.printf("warning: node image cache not written: %v", err)
	}
	workers := len(st.Nodes) - 1
	p.printf("lab up: manager + %d worker(s); state in %s", workers, StatePath(o.Home))
	if workers == 0 && len(o.Arches) > 0 {
		return st, errors.New("no worker node came up")
	}
	return st, nil
}

// checkHost makes sure the host engine answers, warns when the registry does not (the
// nodes pull from it, but the lab can come up without it), and returns the address the
// node containers reach the host at: the default bridge's gateway.
func checkHost(ctx context.Context, host *client.Client, p *progress) (string, error) {
	if _, err := host.Ping(ctx); err != nil {
		return "", fmt.Errorf("host engine not answering (%w); fix: start dockerd or `go run ./ci setup`", err)
	}
	if err := provision.RegistryAnswers(ctx, Registry); err != nil {
		p.printf("warning: registry %s not answering (%v); nodes cannot pull until it runs; fix: `go run ./ci setup`", Registry, err)
	}
	return bridgeGateway(ctx, host)
}

// runnableArches returns the manager's architecture (this machine's) and the requested
// workers this machine can run; each one it cannot (no emulation for it) is reported
// with the fix and left out.
func runnableArches(requested []Arch, p *progress) (Arch, []Arch, error) {
	hostArch := runtime.GOARCH
	native, ok := ByEngineArch(hostArch)
	if !ok {
		return Arch{}, nil, fmt.Errorf("host architecture %s not supported by the lab", hostArch)
	}
	var arches []Arch
	for _, a := range requested {
		if a.Emulated(hostArch) {
			if msg := checkEmulation(hostArch, a); msg != "" {
				p.printf("%s", msg)
				continue
			}
		}
		arches = append(arches, a)
	}
	return native, arches, nil
}

// nodeImages builds or loads the node image of the manager and of every worker, and
// reports each; a worker whose image cannot be had is reported and left out, the
// manager's is required.
func nodeImages(ctx context.Context, b *Builder, native Arch, arches []Arch, p *progress) (map[string]NodeImage, error) {
	build := append([]Arch{native}, without(arches, native)...)
	p.printf("node images: %s", archList(build))
	build, err := b.buildable(ctx, build, p)
	if err != nil {
		return nil, err
	}
	images, errs, err := b.Ensure(ctx, build)
	if err != nil {
		return nil, err
	}
	for _, a := range build {
		if e := errs[a.Name]; e != nil {
			p.printf("%s: node image failed: %v", a.Name, e)
			continue
		}
		p.printf("%s: %s (%s)", a.Name, images[a.Name].Tag, images[a.Name].Source)
	}
	if _, ok := images[native.Name]; !ok {
		return nil, fmt.Errorf("manager image (%s): %w", native.Name, errs[native.Name])
	}
	return images, nil
}

// nodeSpecs lists the nodes to run: the manager first, then each worker that has an
// image.
func nodeSpecs(native Arch, arches []Arch, images map[string]NodeImage) []nodeSpec {
	specs := []nodeSpec{{Name: ManagerName, Arch: native, Role: "manager", Image: images[native.Name].Tag}}
	for _, a := range arches {
		if img, ok := images[a.Name]; ok {
			specs = append(specs, nodeSpec{Name: NodeName(a), Arch: a, Role: "worker", Image: img.Tag})
		}
	}
	return specs
}

// registerNodes labels each node that came up with its architecture, removes the swarm
// nodes of containers that are gone, and returns the lab's state; a node that failed
// is reported and left out.
func registerNodes(ctx context.Context, mgrAddr string, started []startedNode, p *progress) (State, error) {
	mgr, err := engineClient(mgrAddr)
	if err != nil {
		return State{}, err
	}
	defer mgr.Close()
	st := State{DockerHost: "tcp://" + mgrAddr + ":2375", Registry: Registry}
	keep := map[string]bool{}
	for _, r := range started {
		if r.err != nil {
			p.printf("%s: failed: %v", r.node.Name, r.err)
			continue
		}
		keep[r.id] = true
		if err := labelNode(ctx, mgr, r.id, r.node.Arch); err != nil {
			p.printf("%s: %v", r.node.Name, err)
		}
		st.Nodes = append(st.Nodes, r.node)
	}
	if n, err := pruneNodes(ctx, mgr, keep); err != nil {
		p.printf("warning: %v", err)
	} else if n > 0 {
		p.printf("removed %d stale swarm node(s)", n)
	}
	return st, nil
}

func without(as []Arch, x Arch) []Arch {
	var out []Arch
	for _, a := range as {
		if a.Name != x.Name {
			out = append(out, a)
		}
	}
	return out
}

func archList(as []Arch) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.Name
	}
	return strings.Join(names, ",")
}

// buildable drops the archs whose image must be built when this machine cannot build
// (one line each with the fix); the manager's arch is required.
func (b *Builder) buildable(ctx context.Context, as []Arch, p *progress) ([]Arch, error) {
	recipes, _, err := b.Recipes(ctx, as)
	if err != nil {
		return nil, err
	}
	var out []Arch
	for i, a := range as {
		if b.haveImage(ctx, a, recipes[a.Name].Hash()) {
			out = append(out, a)
			continue
		}
		if msg := checkBuildTools(recipes[a.Name].Foreign); msg != "" {
			if i == 0 {
				return nil, fmt.Errorf("manager node image (%s): %s", a.Name, msg)
			}
			p.printf("%s skipped: %s", a.Name, msg)
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (b *Builder) haveImage(ctx context.Context, a Arch, h string) bool {
	if _, err := b.Docker.ImageInspect(ctx, ImageTag(a, h)); err == nil {
		return true
	}
	_, err := os.Stat(b.labDir("images", a.Suffix+"-"+h+".tar.gz"))
	return err == nil
}

// removeUnwanted removes lab node containers that are not in specs (an earlier `up`
// with more architectures).
func removeUnwanted(ctx context.Context, host *client.Client, specs []nodeSpec, p *progress) error {
	want := map[string]bool{}
	for _, s := range specs {
		want["/"+s.Name] = true
	}
	list, err := host.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelKey+"=1"))})
	if err != nil {
		return fmt.Errorf("list lab containers: %w", err)
	}
	for _, c := range list {
		if len(c.Names) > 0 && !want[c.Names[0]] {
			p.printf("removing %s (not requested)", strings.TrimPrefix(c.Names[0], "/"))
			if err := removeNode(ctx, host, c.ID); err != nil {
				return err
			}
			for _, m := range c.Mounts {
				if m.Type == "volume" {
					_ = host.VolumeRemove(ctx, m.Name, true)
				}
			}
		}
	}
	return nil
}

func bridgeGateway(ctx context.Context, host *client.Client) (string, error) {
	n, err := host.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect the default bridge: %w", err)
	}
	for _, c := range n.IPAM.Config {
		if c.Gateway != "" {
			return c.Gateway, nil
		}
		// Engine 20.10 leaves Gateway empty for the default bridge: it is docker0's
		// address, the first host of the subnet unless --bip says otherwise.
		if ip := ifaceAddrIn(n.Options["com.docker.network.bridge.name"], c.Subnet); ip != "" {
			return ip, nil
		}
		if gw, err := firstHost(c.Subnet); err == nil {
			return gw, nil
		}
	}
	return "", errors.New("the default bridge has no gateway address")
}

// firstHost is the first usable address of an IPv4 subnet (172.17.0.0/16 → 172.17.0.1).
func firstHost(subnet string) (string, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("subnet %q: want an IPv4 prefix", subnet)
	}
	return p.Masked().Addr().Next().String(), nil
}

// ifaceAddrIn returns the address of interface name inside subnet, or "".
func ifaceAddrIn(name, subnet string) string {
	p, err := netip.ParsePrefix(subnet)
	if name == "" || err != nil {
		return ""
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if pn, err := netip.ParsePrefix(a.String()); err == nil && p.Contains(pn.Addr()) {
			return pn.Addr().String()
		}
	}
	return ""
}

// Down removes every container, volume and network labelled archway.lab=1 on the host
// engine and the state files, keeps the image caches, and verifies nothing is left.
func Down(ctx context.Context, home string, out io.Writer) error {
	p := &progress{out: out, t0: time.Now()}
	host, err := HostClient()
	if err != nil {
		return err
	}
	defer host.Close()
	f := filters.NewArgs(filters.Arg("label", LabelKey+"=1"))
	list, err := host.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list lab containers: %w", err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(list))
	for _, c := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- removeNode(ctx, host, c.ID)
		}()
		p.printf("removing container %s", strings.TrimPrefix(firstName(c.Names), "/"))
	}
	wg.Wait()
	close(errc)
	var errs []error
	for e := range errc {
		errs = append(errs, e)
	}
	vols, err := host.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list lab volumes: %w", err)
	}
	for _, v := range vols.Volumes {
		p.printf("removing volume %s", v.Name)
		if err := host.VolumeRemove(ctx, v.Name, true); err != nil {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
		}
	}
	nets, err := host.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list lab networks: %w", err)
	}
	for _, n := range nets {
		p.printf("removing network %s", n.Name)
		if err := host.NetworkRemove(ctx, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	if err := RemoveState(home); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	left, err := Leftovers(ctx, host)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("lab down left behind: %s", strings.Join(left, ", "))
	}
	p.printf("lab down: nothing left (node image cache kept in %s)", filepath.Join(home, "lab", "images"))
	return nil
}

// Leftovers lists what the lab created that still exists on the host engine: containers
// and volumes labelled archway.lab=1 or named archway-lab-*, and lab networks.
func Leftovers(ctx context.Context, host *client.Client) ([]string, error) {
	var left []string
	f := filters.NewArgs(filters.Arg("label", LabelKey+"=1"))
	byName := filters.NewArgs(filters.Arg("name", NamePrefix))
	for _, ff := range []filters.Args{f, byName} {
		cs, err := host.ContainerList(ctx, container.ListOptions{All: true, Filters: ff})
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		for _, c := range cs {
			left = append(left, "container "+strings.TrimPrefix(firstName(c.Names), "/"))
		}
		vs, err := host.VolumeList(ctx, volume.ListOptions{Filters: ff})
		if err != nil {
			return nil, fmt.Errorf("list volumes: %w", err)
		}
		for _, v := range vs.Volumes {
			left = append(left, "volume "+v.Name)
		}
		ns, err := host.NetworkList(ctx, network.ListOptions{Filters: ff})
		if err != nil {
			return nil, fmt.Errorf("list networks: %w", err)
		}
		for _, n := range ns {
			left = append(left, "network "+n.Name)
		}
	}
	sort.Strings(left)
	left = compactStrings(left)
	slog.Debug("lab leftovers", "count", len(left))
	return left, nil
}

func compactStrings(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
