package provision

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (p *Provisioner) imageExists(ctx context.Context, ref string) bool {
	_, err := p.Run.Run(ctx, nil, nil, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
	return err == nil
}

// EnsureBaseImage makes archway/base:bookworm of the current recipe (BaseRootfs,
// label archway.recipe) exist in the engine without pulling: docker load of the saved
// tarball when there is one (keeps the image ID, hence the Dagger cache keys,
// stable), else docker import of the debootstrap rootfs.
func (p *Provisioner) EnsureBaseImage(ctx context.Context) error {
	key := BaseRootfs.Key()
	if p.imageExists(ctx, BaseImage) {
		label, _ := p.Run.Run(ctx, nil, nil, "docker", "image", "inspect", "--format", `{{index .Config.Labels "archway.recipe"}}`, BaseImage)
		if strings.TrimSpace(label) == key {
			p.say("base image", "%s present (recipe %s)", BaseImage, key)
			return nil
		}
		p.say("base image", "%s is recipe %q, want %s (%s): rebuilding", BaseImage, strings.TrimSpace(label), key, strings.Join(BaseRootfs.Packages, ","))
	}
	if _, err := os.Stat(p.Cfg.BaseTarball()); err == nil {
		if _, err := p.Run.Run(ctx, nil, nil, "docker", "load", "-i", p.Cfg.BaseTarball()); err != nil {
			return fmt.Errorf("docker load %s: %w (delete the file to rebuild it)", p.Cfg.BaseTarball(), err)
		}
		p.say("base image", "%s loaded from %s", BaseImage, p.Cfg.BaseTarball())
		return nil
	}
	tarball, err := p.EnsureRootfs(ctx, "base image", BaseRootfs)
	if err != nil {
		return err
	}
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := p.Run.Run(ctx, nil, f, "docker", "import", "--change", "ENV "+pathEnv, "--change", "LABEL archway.recipe="+key, "-", BaseImage); err != nil {
		return fmt.Errorf("docker import %s: %w", BaseImage, err)
	}
	p.say("base image", "%s imported from %s", BaseImage, tarball)
	return nil
}

// EnsureGoBase writes the docker-save tarball of the base image that the pipeline
// imports with Container().Import; not needed when an online Go image is chosen.
func (p *Provisioner) EnsureGoBase(ctx context.Context) error {
	if p.Cfg.GoImage != "" {
		p.say("go base", "online image %s chosen (ARCHWAY_GO_IMAGE / -go-image); no offline tarball needed", p.Cfg.GoImage)
		return nil
	}
	out := p.Cfg.BaseTarball()
	if _, err := os.Stat(out); err == nil {
		p.say("go base", "offline tarball %s (cached)", out)
		return nil
	}
	if _, err := p.Run.Run(ctx, nil, nil, "docker", "save", "-o", out+".tmp", BaseImage); err != nil {
		return fmt.Errorf("docker save %s: %w", BaseImage, err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return err
	}
	// Tarballs of earlier base recipes are never loaded again.
	if old, _ := filepath.Glob(p.Cfg.path("base", "archway-base-bookworm*.docker.tar")); len(old) > 0 {
		for _, f := range old {
			if f != out {
				_ = os.Remove(f)
			}
		}
	}
	p.say("go base", "offline tarball %s written (host Go toolchain is mounted at run time)", out)
	return nil
}
