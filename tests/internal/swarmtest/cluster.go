// Package swarmtest holds the helpers of archway's integration suite (tests/): finding the
// Swarm to test, building service specs with functional options, creating services that
// clean up after themselves, and polls that say what they waited for. It follows the style
// of moby's integration/internal/swarm.
package swarmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/archwayhq/archway/swarm/lab/lab"
)

// Environment variables the suite reads.
const (
	EnvRequire      = "ARCHWAY_REQUIRE_SWARM" // "1": no Swarm is a failure, not a skip (CI)
	EnvAppImage     = "ARCHWAY_APP_IMAGE"
	EnvProxyImage   = "ARCHWAY_PROXY_IMAGE"
	EnvTimeoutScale = "ARCHWAY_TEST_TIMEOUT_SCALE" // multiplies every timeout, e.g. 2 on a slow machine
	EnvHome         = "ARCHWAY_HOME"               // read through lab.Home

	DefaultAppImage   = "127.0.0.1:5000/archway/app:latest"
	DefaultProxyImage = "127.0.0.1:5000/archway/proxy:latest"

	// StartLab is the one-line hint printed when no Swarm is reachable.
	StartLab = "no Swarm to test: start the lab with `go tool task lab:up` (or set DOCKER_HOST to a Swarm manager); set " + EnvRequire + "=1 to fail instead"
)

// emulationFactor stretches timeouts on clusters with emulated (binfmt/qemu) nodes: their
// engines pull, unpack and start containers several times slower than native ones.
const emulationFactor = 4

// Node is a Swarm node as the suite sees it.
type Node struct {
	ID       string
	Hostname string
	// Addr is where the test reaches the node (its Swarm address).
	Addr    string
	Manager bool
	// EngineArch is the GOARCH of the node's engine (ServerVersion().Arch): the engine picks
	// the index entry, so it is what a task on this node must report. Swarm's node
	// description is not enough: an i386 node reports x86_64 but pulls 386.
	EngineArch string
	// ArchFromDescription is set when the engine was not reachable and EngineArch was derived
	// from the node description instead (real clusters without a TCP engine API).
	ArchFromDescription bool
	// Platform is Swarm's Description.Platform.Architecture (e.g. x86_64, armv7l).
	Platform string
	// Container is the lab container running this node, "" off the lab.
	Container string
	// Emulated is set for lab nodes whose engine runs under binfmt emulation.
	Emulated bool
}

func (n Node) String() string {
	return fmt.Sprintf("%s(%s)", n.Hostname, n.EngineArch)
}

// Cluster is the Swarm under test.
type Cluster struct {
	Client *client.Client
	// Source says how it was found ("DOCKER_HOST=…" or the lab state file).
	Source     string
	Lab        *lab.State // nil off the lab
	AppImage   string
	ProxyImage string
	// RunID is unique per `go test` process: names and labels carry it, so two runs can
	// share a cluster and a leftover can be traced to its run.
	RunID string
	scale float64

	managerHost string
	mu          sync.Mutex
	nodes       []Node            // ready, active nodes, sorted by hostname
	archCache   map[string]string // engine arch by node address: asked once per engine
}

// DockerHost is the manager's address the suite talks to (DOCKER_HOST or the lab's): for
// commands the tests run against the same cluster.
func (c *Cluster) DockerHost() string { return c.managerHost }

// NodeList returns the ready, active nodes as last read (see Refresh).
func (c *Cluster) NodeList() []Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Node(nil), c.nodes...)
}

var (
	connectOnce sync.Once
	shared      *Cluster
	connectErr  error
)

// Connect returns the Swarm under test: DOCKER_HOST if set, else the lab's state file.
// With no reachable Swarm it skips the test with one line saying how to start the lab,
// or fails when ARCHWAY_REQUIRE_SWARM=1.
func Connect(t testing.TB) *Cluster {
	t.Helper()
	connectOnce.Do(func() { shared, connectErr = connect(context.Background()) })
	if connectErr != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %v", EnvRequire, connectErr)
		}
		t.Skip(connectErr.Error())
	}
	return shared
}

// errNoSwarm marks "nothing to test against" (skip) as opposed to a broken setting.
var errNoSwarm = errors.New(StartLab)

func connect(ctx context.Context) (*Cluster, error) {
	scale := 1.0
	if v := os.Getenv(EnvTimeoutScale); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive number", EnvTimeoutScale, v)
		}
		scale = f
	}
	c := &Cluster{
		AppImage:   envOr(EnvAppImage, DefaultAppImage),
		ProxyImage: envOr(EnvProxyImage, DefaultProxyImage),
		RunID:      newRunID(),
		scale:      scale,
	}
	var host string
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		host, c.Source = h, "DOCKER_HOST="+h
		// DOCKER_HOST from the lab's env file is still the lab (node containers to pause).
		if home, err := lab.Home(); err == nil {
			if st, err := lab.LoadState(home); err == nil && st.DockerHost == h {
				c.Lab = &st
			}
		}
	} else {
		home, err := lab.Home()
		if err != nil {
			return nil, err
		}
		st, err := lab.LoadState(home)
		if errors.Is(err, lab.ErrNoLab) {
			return nil, errNoSwarm
		}
		if err != nil {
			return nil, err
		}
		c.Lab, host, c.Source = &st, st.DockerHost, lab.StatePath(home)
	}
	opts := []client.Opt{client.WithAPIVersionNegotiation(), client.WithHost(host)}
	if os.Getenv("DOCKER_HOST") != "" {
		opts = append([]client.Opt{client.FromEnv}, opts...)
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", c.Source, err)
	}
	c.Client = cli
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := cli.Info(pctx)
	if err != nil {
		return nil, fmt.Errorf("%w (engine from %s not answering: %v)", errNoSwarm, c.Source, err)
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive || !info.Swarm.ControlAvailable {
		return nil, fmt.Errorf("%w (engine from %s is not a Swarm manager: swarm state %q)", errNoSwarm, c.Source, info.Swarm.LocalNodeState)
	}
	c.managerHost = host
	if err := c.Refresh(pctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Refresh re-reads the node list (a lab node that rejoins gets a new ID) and asks each new
// node's engine for its architecture.
func (c *Cluster) Refresh(ctx context.Context) error {
	managerHost := c.managerHost
	nodes, err := c.Client.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	c.mu.Lock()
	if c.archCache == nil {
		c.archCache = map[string]string{}
	}
	cache := maps.Clone(c.archCache)
	c.mu.Unlock()
	var fresh []Node
	for _, sn := range nodes {
		n := Node{
			ID: sn.ID, Hostname: sn.Description.Hostname, Addr: sn.Status.Addr,
			Manager: sn.ManagerStatus != nil, Platform: sn.Description.Platform.Architecture,
		}
		if n.Addr == "" || n.Addr == "0.0.0.0" {
			if sn.ManagerStatus != nil {
				n.Addr, _, _ = strings.Cut(sn.ManagerStatus.Addr, ":")
			}
		}
		if c.Lab != nil {
			for _, ln := range c.Lab.Nodes {
				if ln.Addr == n.Addr || ln.Name == n.Hostname || ln.Container == n.Hostname {
					n.Container = ln.Container
				}
			}
		}
		if sn.Status.State != swarm.NodeStateReady || sn.Spec.Availability != swarm.NodeAvailabilityActive {
			// Not schedulable: keep it out of "every node" expectations.
			continue
		}
		host := "tcp://" + n.Addr + ":2375"
		if n.Manager && c.Lab == nil && os.Getenv("DOCKER_HOST") != "" && managerHost != "" && sn.ManagerStatus.Leader {
			host = managerHost
		}
		arch, cached := cache[n.Addr], false
		if arch != "" {
			cached = true
		}
		if !cached {
			arch, err = engineArch(ctx, host)
		}
		if err != nil {
			if c.Lab != nil {
				return fmt.Errorf("lab node %s: engine at %s: %w", n.Hostname, host, err)
			}
			// Off the lab, node engines usually have no TCP API: Swarm's description is the
			// best we have (wrong for i386 nodes on 64-bit kernels).
			n.EngineArch, n.ArchFromDescription = NormalizeArch(n.Platform), true
		} else {
			n.EngineArch = arch
			cache[n.Addr] = arch
		}
		n.Emulated = c.Lab != nil && !nativeTo(runtime.GOARCH, n.EngineArch)
		fresh = append(fresh, n)
	}
	sort.Slice(fresh, func(i, j int) bool { return fresh[i].Hostname < fresh[j].Hostname })
	if len(fresh) == 0 {
		return errors.New("the Swarm has no ready, active node")
	}
	c.mu.Lock()
	c.nodes, c.archCache = fresh, cache
	c.mu.Unlock()
	return nil
}

func engineArch(ctx context.Context, host string) (string, error) {
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	defer cli.Close()
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		return "", err
	}
	return v.Arch, nil
}

// NormalizeArch maps a kernel machine name (uname -m, Swarm's node description) to GOARCH.
func NormalizeArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i686", "386":
		return "386"
	case "armv7l", "armv6l", "armv8l", "arm":
		return "arm"
	}
	return machine
}

// nativeTo says whether a host of GOARCH host runs arch without emulation.
func nativeTo(host, arch string) bool {
	return arch == host || (host == "amd64" && arch == "386") || (host == "arm64" && arch == "arm")
}

// Timeout scales base for this cluster: emulated nodes are slower, and
// ARCHWAY_TEST_TIMEOUT_SCALE stretches everything.
func (c *Cluster) Timeout(base time.Duration) time.Duration {
	f := c.scale
	for _, n := range c.NodeList() {
		if n.Emulated {
			f *= emulationFactor
			break
		}
	}
	return time.Duration(float64(base) * f)
}

// Arches is the sorted set of engine architectures of the cluster's nodes.
func (c *Cluster) Arches() []string {
	set := map[string]bool{}
	for _, n := range c.NodeList() {
		set[n.EngineArch] = true
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// NodeByID finds a node of the cluster (as last read).
func (c *Cluster) NodeByID(id string) (Node, bool) {
	for _, n := range c.NodeList() {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

// Name returns a name unique to this run and test: "archway-test-<run>-<suffix>".
func (c *Cluster) Name(suffix string) string {
	return "archway-test-" + c.RunID + "-" + suffix
}

func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
