package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"dagger.io/dagger"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Published is the outcome of publishing one image.
type Published struct {
	Ref    string // registry/name:version
	Index  string // normalized index digest
	Images []PlatformImage
	Layout string // dist/ tarball
	Signed bool   // index and platform manifests signed, SBOM and provenance attested, all verified
}

// imageName maps a binary to its configured repository name.
func (a *Archway) imageName(b Binary) string {
	if b.Name == "archway-proxy" {
		return a.opts.ProxyImage
	}
	return a.opts.AppImage
}

// staged is an index pushed by digest and verified, not yet tagged.
type staged struct {
	b     Binary
	repo  string
	ref   string
	index string
	body  []byte
	mt    types.MediaType
	imgs  []PlatformImage
	host  *dagger.Container
}

// Publish builds every platform image and publishes one index per binary: Dagger
// pushes it, normalize.go makes it reproducible (pushed by digest), it is verified
// from the registry (platforms, configs, the binary in every layer), then signed and
// attested (sign.go) and those verified as a user would. Only when both indexes passed
// all of that are they tagged <version> and latest, so no tag a user pulls names an
// index that failed a check. Then each is written to dist/ and, with -load, the
// host-arch image is loaded into the local Docker engine.
func (a *Archway) Publish(ctx context.Context, outs map[string]*dagger.Directory) ([]Published, error) {
	rc := newRegistryClient(a.opts.Registry)
	// The images are staged side by side (each is registry round trips: pushes, reads
	// back, signatures); nothing is tagged until both passed.
	bins := a.Binaries()
	all := make([]staged, len(bins))
	g, gctx := errgroup.WithContext(ctx)
	for i, b := range bins {
		g.Go(func() error {
			s, err := a.stage(gctx, rc, b, outs)
			all[i] = s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, s := range all {
		if err := tagIndex(ctx, rc, s, a.info.Version, "latest"); err != nil {
			return nil, err
		}
	}
	// Then each index is written to dist/ (and loaded), side by side.
	res := make([]Published, len(all))
	g, gctx = errgroup.WithContext(ctx)
	for i, s := range all {
		g.Go(func() (err error) {
			res[i], err = a.deliver(gctx, rc, s)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if a.key != nil {
		pub := filepath.Join(a.opts.Dist, "cosign.pub")
		if err := os.MkdirAll(a.opts.Dist, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(pub, a.key.PubPEM, 0o644); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// tagIndex points tags at s's index and reads each back.
func tagIndex(ctx context.Context, rc *registryClient, s staged, tags ...string) error {
	for _, tag := range tags {
		if _, err := rc.PutManifest(ctx, s.repo, tag, s.mt, s.body); err != nil {
			return fmt.Errorf("tag %s:%s: %w", s.repo, tag, err)
		}
		if body, _, err := rc.Manifest(ctx, s.repo, tag); err != nil || digestOf(body) != s.index {
			return fmt.Errorf("verify %s:%s: digest %s, want %s: %v", s.repo, tag, digestOf(body), s.index, err)
		}
	}
	return nil
}

// deliver writes a tagged index to dist/ as an OCI layout and, with -load, loads its
// host-platform image into the local Docker engine.
func (a *Archway) deliver(ctx context.Context, rc *registryClient, s staged) (Published, error) {
	layout := filepath.Join(a.opts.Dist, fmt.Sprintf("%s-%s.oci.tar", path.Base(s.repo), a.info.Version))
	if _, err := exportLayout(ctx, rc, s.repo, s.index, a.info.Version, layout, a.info.Created); err != nil {
		return Published{}, fmt.Errorf("export %s: %w", layout, err)
	}
	if a.opts.Load {
		if s.host == nil {
			return Published{}, fmt.Errorf("-load: host platform %s is not in -platforms", hostPlatform())
		}
		if err := loadIntoDocker(ctx, s.host, s.ref, os.TempDir()); err != nil {
			return Published{}, err
		}
	}
	sort.Slice(s.imgs, func(i, j int) bool { return s.imgs[i].Platform < s.imgs[j].Platform })
	return Published{Ref: s.ref, Index: s.index, Images: s.imgs, Layout: layout, Signed: a.key != nil}, nil
}

// stage publishes, normalizes, verifies, signs and attests one binary's index.
func (a *Archway) stage(ctx context.Context, rc *registryClient, b Binary, outs map[string]*dagger.Directory) (staged, error) {
	name := a.imageName(b)
	s := staged{b: b, repo: name, ref: fmt.Sprintf("%s/%s:%s", a.opts.Registry, name, a.info.Version)}
	variants := make([]*dagger.Container, 0, len(a.opts.Platforms))
	for _, p := range a.opts.Platforms {
		img := a.Image(p, b, outs[p])
		variants = append(variants, img)
		if p == hostPlatform() {
			s.host = img
		}
	}
	published, err := a.client.Container().Publish(ctx, s.ref, dagger.ContainerPublishOpts{PlatformVariants: variants})
	if err != nil {
		return s, fmt.Errorf("publish %s: %w (is the registry %s reachable from the Dagger engine? `go run ./ci setup` sets that up)", s.ref, err, a.opts.Registry)
	}
	repo, dgst, err := splitRef(published, a.opts.Registry)
	if err != nil {
		return s, err
	}
	if s.index, err = normalizeIndex(ctx, rc, repo, dgst, a.info.Created, a.opts.Platforms, nil); err != nil {
		return s, fmt.Errorf("normalize %s: %w", s.ref, err)
	}
	vd, imgs, err := verifyIndex(ctx, rc, repo, s.index, a.opts.Platforms)
	if err != nil {
		return s, err
	}
	if vd != s.index {
		return s, fmt.Errorf("verify %s: registry serves index %s, pushed %s", s.ref, vd, s.index)
	}
	s.imgs = imgs
	if s.body, s.mt, err = rc.Manifest(ctx, repo, s.index); err != nil {
		return s, err
	}
	// Each platform's layer is read and checked on its own (registry round trips
	// and a gunzip each): side by side, four at a time.
	exes := make([][]byte, len(imgs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, im := range imgs {
		g.Go(func() (err error) {
			if exes[i], err = verifyImageContent(gctx, rc, repo, im.Manifest, im.Platform, "/usr/local/bin/"+b.Name); err != nil {
				return fmt.Errorf("verify %s: %w", s.ref, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return s, err
	}
	if a.key != nil {
		if err := a.signAndAttest(ctx, rc, s, exes); err != nil {
			return s, fmt.Errorf("sign %s: %s", s.ref, oneLine(err))
		}
	}
	return s, nil
}
