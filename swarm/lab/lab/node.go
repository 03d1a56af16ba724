package lab

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Labels on everything the lab creates on the host engine; `down` removes by LabelKey.
const (
	LabelKey   = "archway.lab"
	labelArch  = "archway.lab.arch"
	labelRole  = "archway.lab.role"
	NamePrefix = "archway-lab-"
	// ManagerName is the manager node's container and host name.
	ManagerName = NamePrefix + "manager"
)

// NodeName is the container and host name of the worker for arch a.
func NodeName(a Arch) string { return NamePrefix + a.Suffix }

// nodeSpec is one node to run.
type nodeSpec struct {
	Name  string
	Arch  Arch
	Role  string
	Image string
}

func (s nodeSpec) volume() string { return s.Name + "-data" }

// runFlags are the host settings of a node container. --privileged where the engine can
// grant every capability; elsewhere all caps but SYS_RESOURCE, unconfined profiles and
// every device (the entrypoint remounts /sys and cgroups rw).
func runFlags(privileged bool) *container.HostConfig {
	hc := &container.HostConfig{}
	if privileged {
		hc.Privileged = true
		return hc
	}
	hc.CapAdd = []string{"ALL"}
	hc.CapDrop = []string{"SYS_RESOURCE"}
	hc.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
	// `--security-opt systempaths=unconfined` of the CLI: empty (not nil) lists, so /proc
	// and /sys paths are neither masked nor read-only.
	hc.MaskedPaths, hc.ReadonlyPaths = []string{}, []string{}
	hc.DeviceCgroupRules = []string{"a *:* rwm"}
	return hc
}

// ensureNode makes the node's container run image spec.Image and returns its bridge IP.
// A running container of the right image is kept (idempotent up); anything else is
// replaced together with its data volume, so a new engine never starts with the swarm
// state of an old one.
func ensureNode(ctx context.Context, host *client.Client, spec nodeSpec, privileged bool, upstream string) (addr string, created bool, err error) {
	ci, err := host.ContainerInspect(ctx, spec.Name)
	switch {
	case err == nil:
		if ci.Config.Image == spec.Image && ci.State != nil && ci.State.Running {
			if ip := bridgeIP(ci); ip != "" {
				return ip, false, nil
			}
		}
		if err := removeNode(ctx, host, spec.Name); err != nil {
			return "", false, err
		}
	case !cerrdefs.IsNotFound(err):
		return "", false, fmt.Errorf("inspect %s: %w", spec.Name, err)
	}
	_ = host.VolumeRemove(ctx, spec.volume(), true)
	labels := map[string]string{LabelKey: "1", labelArch: spec.Arch.Name, labelRole: spec.Role}
	if _, err := host.VolumeCreate(ctx, volume.CreateOptions{Name: spec.volume(), Labels: labels}); err != nil {
		return "", false, fmt.Errorf("volume %s: %w", spec.volume(), err)
	}
	hc := runFlags(privileged)
	// /var/lib/docker must not be on the container's overlay (overlay on overlay fails).
	hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: spec.volume(), Target: "/var/lib/docker"}}
	cfg := &container.Config{
		Image:    spec.Image,
		Hostname: spec.Name,
		Labels:   labels,
		Env: []string{
			"ARCHWAY_ARCH=" + spec.Arch.Name,
			"ARCHWAY_REGISTRY_UPSTREAM=" + upstream,
		},
	}
	if _, err := host.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name); err != nil {
		return "", false, fmt.Errorf("create %s: %w", spec.Name, err)
	}
	if err := host.ContainerStart(ctx, spec.Name, container.StartOptions{}); err != nil {
		return "", false, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	ci, err = host.ContainerInspect(ctx, spec.Name)
	if err != nil {
		return "", false, fmt.Errorf("inspect %s: %w", spec.Name, err)
	}
	ip := bridgeIP(ci)
	if ip == "" {
		return "", false, fmt.Errorf("%s has no address on the default bridge", spec.Name)
	}
	return ip, true, nil
}

func bridgeIP(ci container.InspectResponse) string {
	if ci.NetworkSettings == nil {
		return ""
	}
	if n, ok := ci.NetworkSettings.Networks["bridge"]; ok {
		return n.IPAddress
	}
	return ""
}

func removeNode(ctx context.Context, host *client.Client, name string) error {
	err := host.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// engineClient returns a client for the node engine at addr.
func engineClient(addr string) (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.WithHost("tcp://"+addr+":2375"), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", addr, err)
	}
	return c, nil
}

// waitEngine polls the node engine until it answers. Emulated engines take longer. A
// node container that stops meanwhile fails at once, with the last line of its log (the
// daemon's reason).
func waitEngine(ctx context.Context, host *client.Client, name, addr string, timeout time.Duration) (*client.Client, error) {
	c, err := engineClient(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := c.Ping(pctx)
		pcancel()
		if err == nil {
			return c, nil
		}
		if ci, ierr := host.ContainerInspect(ctx, name); ierr == nil && ci.State != nil && !ci.State.Running {
			c.Close()
			return nil, fmt.Errorf("%s exited (code %d) before its engine answered: %s", name, ci.State.ExitCode, lastLogLine(ctx, host, name))
		}
		select {
		case <-ctx.Done():
			c.Close()
			return nil, fmt.Errorf("engine at %s not answering after %v: %w", addr, timeout, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// lastLogLine is the last non-empty line a container wrote (stdout or stderr).
func lastLogLine(ctx context.Context, host *client.Client, name string) string {
	rc, err := host.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "3"})
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		return "(log: " + err.Error() + ")"
	}
	last := ""
	for _, l := range strings.Split(out.String()+"\n"+errb.String(), "\n") {
		if strings.TrimSpace(l) != "" {
			last = strings.TrimSpace(l)
		}
	}
	return last
}
