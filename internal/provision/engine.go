package provision

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// engineSocket is where a v0.19 engine listens (distconsts.DefaultEngineSockAddr).
const engineSocket = "/run/dagger/engine.sock"

// EngineImage is the locally assembled engine image for a recipe hash.
func EngineImage(hash string) string { return "archway/dagger-engine:" + DaggerVersion + "-" + hash }

// engineFile is one file added on top of the engine rootfs.
type engineFile struct {
	path, src, body, link string
	mode                  int64
	dir                   bool
}

func engineFiles(bin string) []engineFile {
	return []engineFile{
		{path: "usr/local/bin/dagger-engine", src: filepath.Join(bin, "engine"), mode: 0o755},
		// the init process of every container the engine runs (distconsts.DaggerInitPath)
		{path: "usr/local/bin/dagger-init", src: filepath.Join(bin, "init"), mode: 0o755},
		{path: "usr/local/bin/runc", link: "/usr/sbin/runc"},
		{path: "usr/bin/dial-stdio", src: filepath.Join(bin, "dialstdio"), mode: 0o755},
		// docker-container:// runs `docker exec -i <ctr> buildctl dial-stdio`
		{path: "usr/bin/buildctl", link: "/usr/bin/dial-stdio"},
		{path: "opt/cni", dir: true, mode: 0o755},
		{path: "opt/cni/bin", dir: true, mode: 0o755},
		{path: "opt/cni/bin/bridge", src: filepath.Join(bin, "bridge"), mode: 0o755},
		{path: "opt/cni/bin/loopback", src: filepath.Join(bin, "loopback"), mode: 0o755},
		{path: "opt/cni/bin/firewall", src: filepath.Join(bin, "firewall"), mode: 0o755},
		{path: "opt/cni/bin/host-local", src: filepath.Join(bin, "host-local"), mode: 0o755},
		{path: "opt/cni/bin/dnsname", src: filepath.Join(bin, "dnsname"), mode: 0o755},
		{path: "etc/dagger", dir: true, mode: 0o755},
		{path: "etc/dagger/engine.toml", body: engineTOML, mode: 0o644},
		{path: "etc/dagger/engine.json", body: engineJSON, mode: 0o644},
		{path: "var/lib/dagger", dir: true, mode: 0o755},
		{path: "usr/local/share/dagger", dir: true, mode: 0o755},
		{path: "usr/local/share/dagger/content", dir: true, mode: 0o755},
		{path: "usr/local/bin/dagger-entrypoint.sh", body: engineEntrypoint, mode: 0o755},
	}
}

// writeEngineTar streams the rootfs tarball followed by the engine files, so the
// image is assembled without unpacking the rootfs (no root-owned tree to clean up).
func writeEngineTar(w io.Writer, rootfs io.Reader, files []engineFile) error {
	tw := tar.NewWriter(w)
	tr := tar.NewReader(rootfs)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read rootfs: %w", err)
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	mtime := time.Unix(0, 0)
	for _, f := range files {
		h := &tar.Header{Name: "./" + f.path, Mode: f.mode, ModTime: mtime, Format: tar.FormatPAX}
		var body []byte
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
		case f.src != "":
			b, err := os.ReadFile(f.src)
			if err != nil {
				return fmt.Errorf("engine file %s: %w", f.path, err)
			}
			body = b
		default:
			body = []byte(f.body)
		}
		if !f.dir && f.link == "" {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(body); err != nil {
			return err
		}
	}
	return tw.Close()
}

func (p *Provisioner) ensureEngineImage(ctx context.Context, hash, bin string) error {
	img := EngineImage(hash)
	if p.imageExists(ctx, img) {
		return nil
	}
	rootfs, err := p.EnsureRootfs(ctx, "dagger engine", EngineRootfs)
	if err != nil {
		return err
	}
	f, err := os.Open(rootfs)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeEngineTar(pw, f, engineFiles(bin))) }()
	_, err = p.Run.Run(ctx, nil, pr, "docker", "import",
		"--change", `ENTRYPOINT ["/usr/local/bin/dagger-entrypoint.sh"]`,
		"--change", "ENV "+pathEnv,
		"--change", "ENV _EXPERIMENTAL_DAGGER_RUNNER_HOST=unix://"+engineSocket,
		"--change", "VOLUME /var/lib/dagger",
		"-", img)
	pr.Close()
	if err != nil {
		return fmt.Errorf("docker import %s: %w", img, err)
	}
	p.say("dagger engine", "image %s assembled from Debian packages + built binaries", img)
	return nil
}

// nonPrivilegedFlags give buildkit what it needs on hosts where --privileged fails
// ("unable to apply caps": the capability bounding set lacks CAP_SYS_RESOURCE).
var nonPrivilegedFlags = []string{
	"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
	"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
	"--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm",
}

// privilegedWorks tries `docker run --privileged` once per setup run.
func (p *Provisioner) privilegedWorks(ctx context.Context) bool {
	if p.privileged == nil {
		_, err := p.Run.Run(ctx, nil, nil, "docker", "run", "--rm", "--privileged", "--entrypoint", "/bin/true", BaseImage)
		ok := err == nil
		p.privileged = &ok
	}
	return *p.privileged
}

// EngineRunArgs is the `docker run` of the engine container.
func EngineRunArgs(hash string, privileged bool, registryPort string) []string {
	args := []string{"run", "-d", "--name", EngineContainer, "--init", "--restart", "unless-stopped",
		"--label", "archway.recipe=" + hash}
	if privileged {
		args = append(args, "--privileged")
	} else {
		args = append(args, nonPrivilegedFlags...)
	}
	return append(args,
		"-e", "ARCHWAY_REGISTRY_FORWARD="+registryPort,
		"-v", "/usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro",
		"-v", EngineVolume+":/var/lib/dagger",
		EngineImage(hash))
}

// EngineAction is what EnsureEngine does with the engine container.
type EngineAction int

// Engine container decisions.
const (
	EngineReuse EngineAction = iota
	EngineStart
	EngineRecreate
	EngineCreate
)

// DecideEngine maps the container's status and recipe label to an action.
func DecideEngine(status, label, hash string) EngineAction {
	switch {
	case status == "":
		return EngineCreate
	case label != hash:
		return EngineRecreate
	case status == "running":
		return EngineReuse
	default:
		return EngineStart
	}
}

// EnsureEngine assembles the engine image, (re)starts archway-buildkit when needed,
// checks it answers and reaches the registry, and installs the CLI for the SDK.
func (p *Provisioner) EnsureEngine(ctx context.Context, plan DaggerPlan, bin string) error {
	if err := p.ensureEngineImage(ctx, plan.Hash, bin); err != nil {
		return err
	}
	status := p.containerState(ctx, EngineContainer)
	label, _ := p.Run.Run(ctx, nil, nil, "docker", "inspect", "--format", `{{index .Config.Labels "archway.recipe"}}`, EngineContainer)
	action := DecideEngine(status, label, plan.Hash)
	fresh := action != EngineReuse
	switch action {
	case EngineStart:
		if _, err := p.Run.Run(ctx, nil, nil, "docker", "start", EngineContainer); err != nil {
			return fmt.Errorf("docker start %s: %w", EngineContainer, err)
		}
	case EngineRecreate, EngineCreate:
		if action == EngineRecreate {
			p.say("dagger engine", "%s runs recipe %q, want %s: recreating (state volume %s)", EngineContainer, label, plan.Hash, EngineVolume)
			if _, err := p.Run.Run(ctx, nil, nil, "docker", "rm", "-f", EngineContainer); err != nil {
				return err
			}
		}
		priv := p.privilegedWorks(ctx)
		port := RegistryAddr[strings.LastIndex(RegistryAddr, ":")+1:]
		if _, err := p.Run.Run(ctx, nil, nil, "docker", EngineRunArgs(plan.Hash, priv, port)...); err != nil {
			return fmt.Errorf("start %s: %w", EngineContainer, err)
		}
		mode := "--privileged"
		if !priv {
			mode = "non-privileged flags (--privileged fails on this host)"
		}
		p.say("dagger engine", "started %s with %s", EngineContainer, mode)
	}
	if err := p.waitEngine(ctx); err != nil {
		return err
	}
	if fresh {
		p.removeStale(ctx, plan.Hash)
	}
	if err := p.installCLI(filepath.Join(bin, "dagger")); err != nil {
		return err
	}
	if fresh {
		env := []string{"_EXPERIMENTAL_DAGGER_RUNNER_HOST=" + RunnerHost, "DO_NOT_TRACK=1"}
		qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if _, err := p.Run.Run(qctx, env, strings.NewReader("{version}"), p.Cfg.CLIPath(), "query", "--progress", "plain"); err != nil {
			return fmt.Errorf("dagger query against %s failed: %w (docker logs %s)", RunnerHost, err, EngineContainer)
		}
	}
	p.say("dagger", "CLI+engine %s ready: %s (runner %s, CLI %s and %s)", DaggerVersion, map[bool]string{true: "started", false: "reused"}[fresh], RunnerHost, p.Cfg.CLIPath(), p.Cfg.SDKCLIPath())
	return nil
}

func (p *Provisioner) waitEngine(ctx context.Context) error {
	var err error
	for i := 0; i < 120; i++ {
		if _, err = p.Run.Run(ctx, nil, nil, "docker", "exec", EngineContainer, "test", "-S", engineSocket); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("%s: engine socket %s did not appear in 60s: see `docker logs %s`: %w", EngineContainer, engineSocket, EngineContainer, err)
	}
	// The registry must be reachable as 127.0.0.1:5000 from the engine too (publish).
	for i := 0; i < 20; i++ {
		var out string
		out, err = p.Run.Run(ctx, nil, nil, "docker", "exec", EngineContainer, "sh", "-c",
			`printf 'GET /v2/ HTTP/1.0\r\n\r\n' | socat -t5 - TCP:`+RegistryAddr)
		if err == nil && strings.Contains(out, " 200 ") {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("registry %s not reachable from inside %s (socat forwarder to the bridge gateway): %v", RegistryAddr, EngineContainer, err)
}

// installCLI copies the CLI to ARCHWAY_HOME/bin and to where the SDK looks for it.
func (p *Provisioner) installCLI(src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("dagger CLI: %w", err)
	}
	for _, dst := range []string{p.Cfg.CLIPath(), p.Cfg.SDKCLIPath()} {
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, b) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst+".tmp", b, 0o755); err != nil {
			return err
		}
		if err := os.Rename(dst+".tmp", dst); err != nil {
			return err
		}
	}
	return nil
}

// staleVolumes are engine state volumes of earlier engine series (v0.11.4's).
var staleVolumes = []string{"archway-buildkit-state"}

// removeStale deletes what earlier recipes left: their build directories, SDK CLI
// copies, engine images and state volumes. It only logs what it cannot remove.
func (p *Provisioner) removeStale(ctx context.Context, hash string) {
	keep := filepath.Base(p.Cfg.daggerDir(hash))
	if entries, err := os.ReadDir(p.Cfg.path("dagger")); err == nil {
		for _, e := range entries {
			if e.IsDir() && e.Name() != keep {
				if err := os.RemoveAll(p.Cfg.path("dagger", e.Name())); err == nil {
					p.say("dagger", "removed the stale build %s", p.Cfg.path("dagger", e.Name()))
				}
			}
		}
	}
	if entries, err := os.ReadDir(filepath.Dir(p.Cfg.SDKCLIPath())); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "dagger-") && e.Name() != filepath.Base(p.Cfg.SDKCLIPath()) {
				_ = os.Remove(filepath.Join(filepath.Dir(p.Cfg.SDKCLIPath()), e.Name()))
			}
		}
	}
	if out, err := p.Run.Run(ctx, nil, nil, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "archway/dagger-engine"); err == nil {
		for _, img := range strings.Fields(out) {
			if img != EngineImage(hash) {
				if _, err := p.Run.Run(ctx, nil, nil, "docker", "rmi", img); err == nil {
					p.say("dagger engine", "removed the stale image %s", img)
				}
			}
		}
	}
	for _, v := range staleVolumes {
		if _, err := p.Run.Run(ctx, nil, nil, "docker", "volume", "inspect", v); err != nil {
			continue
		}
		if _, err := p.Run.Run(ctx, nil, nil, "docker", "volume", "rm", v); err != nil {
			p.say("dagger engine", "could not remove the stale state volume %s: %s", v, shortErr(err))
			continue
		}
		p.say("dagger engine", "removed the stale state volume %s", v)
	}
}
