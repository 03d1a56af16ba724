package provision

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// DefaultDockerHost is where the docker CLI looks when DOCKER_HOST is unset.
const DefaultDockerHost = "unix:///var/run/docker.sock"

// dockerVersion asks the daemon for its version; an error means no daemon answers.
func (p *Provisioner) dockerVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return p.Run.Run(ctx, nil, nil, "docker", "version", "--format", "{{.Server.Version}}")
}

// EnsureDocker reuses an answering daemon (DOCKER_HOST or the default socket) or
// installs docker.io and starts dockerd detached, logging to ARCHWAY_HOME/logs.
func (p *Provisioner) EnsureDocker(ctx context.Context) error {
	host := p.Getenv("DOCKER_HOST")
	if host == "" {
		host = DefaultDockerHost
	}
	p.dockerHost = host
	if _, err := p.Run.LookPath("docker"); err == nil {
		if v, err := p.dockerVersion(ctx); err == nil {
			p.say("docker engine", "reusing daemon at %s (%s)", host, v)
			return nil
		}
	}
	if p.Getenv("DOCKER_HOST") != "" {
		return fmt.Errorf("DOCKER_HOST=%s does not answer `docker version`: start that daemon or unset DOCKER_HOST", host)
	}
	if err := p.EnsurePackages(ctx, "docker engine", "docker.io"); err != nil {
		return err
	}
	if _, err := p.Run.LookPath("dockerd"); err != nil {
		return fmt.Errorf("dockerd not found after installing docker.io: %w", err)
	}
	pid, err := p.startDockerd()
	if err != nil {
		return err
	}
	p.say("docker engine", "started dockerd (pid %d, log %s), waiting for it", pid, p.Cfg.path("logs", "dockerd.log"))
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := p.dockerVersion(ctx)
		if err == nil {
			p.say("docker engine", "dockerd answers at %s (%s)", host, v)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd started (pid %d) but did not answer within 60s: see %s", pid, p.Cfg.path("logs", "dockerd.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// startDockerd starts dockerd in its own session so it neither holds the caller's
// stdout/stderr nor dies with it; its pid goes to ARCHWAY_HOME/run/dockerd.pid.
func (p *Provisioner) startDockerd() (int, error) {
	logPath := p.Cfg.path("logs", "dockerd.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open dockerd log: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command("dockerd")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start dockerd: %w (are you root?)", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	pidPath := p.Cfg.path("run", "dockerd.pid")
	if err := os.MkdirAll(filepath.Dir(pidPath), 0o755); err != nil {
		return pid, err
	}
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, fmt.Errorf("write %s: %w", pidPath, err)
	}
	return pid, nil
}
