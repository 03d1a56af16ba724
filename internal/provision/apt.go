package provision

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// EnsurePackages installs the Debian packages that are not installed yet, running
// apt-get update at most once per setup run (and only when an install is needed).
func (p *Provisioner) EnsurePackages(ctx context.Context, step string, pkgs ...string) error {
	var missing []string
	for _, pkg := range pkgs {
		out, err := p.Run.Run(ctx, nil, nil, "dpkg-query", "-W", "-f=${Status}", pkg)
		if err != nil || !strings.HasSuffix(out, "install ok installed") {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	list := strings.Join(missing, " ")
	if _, err := p.Run.LookPath("apt-get"); err != nil {
		return fmt.Errorf("missing %s and no apt-get on this host: install them with your package manager", list)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages %s: run `sudo apt-get install -y %s` (setup installs them only as root)", list, list)
	}
	p.say(step, "apt-get install %s", list)
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	install := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	if _, err := p.Run.Run(ctx, env, nil, "apt-get", install...); err != nil {
		p.mu.Lock()
		updated := p.aptUpdated
		p.aptUpdated = true
		p.mu.Unlock()
		if updated {
			return fmt.Errorf("apt-get install %s: %w", list, err)
		}
		// A fresh image has no package lists: refresh once and retry.
		if _, uerr := p.Run.Run(ctx, env, nil, "apt-get", "update"); uerr != nil {
			return fmt.Errorf("apt-get update (needed to install %s): %w; check network access to the Debian mirror", list, uerr)
		}
		if _, err := p.Run.Run(ctx, env, nil, "apt-get", install...); err != nil {
			return fmt.Errorf("apt-get install %s: %w", list, err)
		}
	}
	return nil
}
