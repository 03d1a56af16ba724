package provision

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

const registryConfig = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: 0.0.0.0:5000
`

// RegistryAnswers is the registry v2 ping: nil when GET http://addr/v2/ answers 200 within
// 3s. Provisioning and the lab share it so both judge "the registry is up" the same way.
func RegistryAnswers(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v2/: %s", resp.Status)
	}
	return nil
}

// containerState returns "running", "exited", … or "" when the container is absent.
func (p *Provisioner) containerState(ctx context.Context, name string) string {
	out, err := p.Run.Run(ctx, nil, nil, "docker", "inspect", "--format", "{{.State.Status}}", name)
	if err != nil {
		return ""
	}
	return out
}

// EnsureRegistry runs Debian's docker-registry (distribution 2.8) in the base image,
// published on 0.0.0.0:5000 so the host reaches it as 127.0.0.1:5000 and containers on
// the default bridge through the bridge gateway.
func (p *Provisioner) EnsureRegistry(ctx context.Context) error {
	switch p.containerState(ctx, RegistryContainer) {
	case "running":
		if err := RegistryAnswers(ctx, RegistryAddr); err == nil {
			p.say("registry", "%s answers on %s (reused)", RegistryContainer, RegistryAddr)
			return nil
		}
		p.say("registry", "%s runs but %s does not answer: recreating it", RegistryContainer, RegistryAddr)
	case "":
	default:
		if _, err := p.Run.Run(ctx, nil, nil, "docker", "start", RegistryContainer); err == nil {
			if err := p.waitRegistry(ctx); err == nil {
				p.say("registry", "%s restarted, answers on %s", RegistryContainer, RegistryAddr)
				return nil
			}
		}
	}
	if err := RegistryAnswers(ctx, RegistryAddr); err == nil && p.containerState(ctx, RegistryContainer) == "" {
		// Someone already serves a registry there (a hand-started one, a user's own):
		// the address is the contract, so use it rather than fight for the port.
		p.say("registry", "%s already answers as a registry v2 but is not the %s container: reusing it (stop it and rerun setup to get %s)", RegistryAddr, RegistryContainer, RegistryContainer)
		return nil
	}
	if err := p.EnsurePackages(ctx, "registry", "docker-registry"); err != nil {
		return err
	}
	bin, err := p.Run.LookPath("docker-registry")
	if err != nil {
		bin = "/usr/bin/docker-registry"
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("docker-registry binary not found: apt-get install docker-registry")
		}
	}
	cfgPath := p.Cfg.path("registry", "config.yml")
	if err := os.WriteFile(cfgPath, []byte(registryConfig), 0o644); err != nil {
		return err
	}
	_, _ = p.Run.Run(ctx, nil, nil, "docker", "rm", "-f", RegistryContainer)
	args := []string{"run", "-d", "--name", RegistryContainer, "--restart", "unless-stopped",
		"--label", "archway.role=registry",
		"-p", "0.0.0.0:5000:5000",
		"-v", RegistryVolume + ":/var/lib/registry",
		"-v", bin + ":/usr/bin/docker-registry:ro",
		"-v", cfgPath + ":/etc/docker/registry/config.yml:ro",
		"--entrypoint", "/usr/bin/docker-registry",
		BaseImage, "serve", "/etc/docker/registry/config.yml"}
	if _, err := p.Run.Run(ctx, nil, nil, "docker", args...); err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("port 5000 is in use on the host: free it (ss -ltnp 'sport = :5000'): %w", err)
		}
		return fmt.Errorf("start %s: %w", RegistryContainer, err)
	}
	if err := p.waitRegistry(ctx); err != nil {
		return fmt.Errorf("%s started but %s does not answer: %w (docker logs %s)", RegistryContainer, RegistryAddr, err, RegistryContainer)
	}
	p.say("registry", "%s started on %s (data in volume %s)", RegistryContainer, RegistryAddr, RegistryVolume)
	return nil
}

func (p *Provisioner) waitRegistry(ctx context.Context) error {
	var err error
	for i := 0; i < 40; i++ {
		if err = RegistryAnswers(ctx, RegistryAddr); err == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return err
}
