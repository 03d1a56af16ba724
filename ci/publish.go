package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"dagger.io/dagger"
)

// Published is the outcome of publishing one image.
type Published struct {
	Ref    string // registry/name:version
	Index  string // normalized index digest
	Images []PlatformImage
	Layout string // dist/ tarball
}

// imageName maps a binary to its configured repository name.
func (a *Archway) imageName(b Binary) string {
	if b.Name == "archway-proxy" {
		return a.opts.ProxyImage
	}
	return a.opts.AppImage
}

// Publish builds every platform image, publishes one index per binary, makes it
// reproducible (normalize.go), verifies it from the registry, writes it to dist/ and,
// with -load, loads the host-arch image into the local Docker engine.
func (a *Archway) Publish(ctx context.Context, outs map[string]*dagger.Directory) ([]Published, error) {
	rc := newRegistryClient(a.opts.Registry)
	var res []Published
	for _, b := range a.Binaries() {
		name := a.imageName(b)
		variants := make([]*dagger.Container, 0, len(a.opts.Platforms))
		var host *dagger.Container
		for _, p := range a.opts.Platforms {
			img := a.Image(p, b, outs[p])
			variants = append(variants, img)
			if p == hostPlatform() {
				host = img
			}
		}
		ref := fmt.Sprintf("%s/%s:%s", a.opts.Registry, name, a.info.Version)
		published, err := a.client.Container().Publish(ctx, ref, dagger.ContainerPublishOpts{PlatformVariants: variants})
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w (is the registry %s reachable from the Dagger engine? `go run ./ci setup` sets that up)", ref, err, a.opts.Registry)
		}
		repo, dgst, err := splitRef(published, a.opts.Registry)
		if err != nil {
			return nil, err
		}
		idx, err := normalizeIndex(ctx, rc, repo, dgst, a.info.Created, a.opts.Platforms, []string{a.info.Version, "latest"})
		if err != nil {
			return nil, fmt.Errorf("normalize %s: %w", ref, err)
		}
		vd, imgs, err := verifyIndex(ctx, rc, repo, a.info.Version, a.opts.Platforms)
		if err != nil {
			return nil, err
		}
		if vd != idx {
			return nil, fmt.Errorf("verify %s: registry serves index %s, pushed %s", ref, vd, idx)
		}
		// :latest must be the very index just verified; same digest, same content, so
		// its entries need no second walk.
		if body, _, err := rc.Manifest(ctx, repo, "latest"); err != nil || digestOf(body) != idx {
			return nil, fmt.Errorf("verify %s:latest: digest %s, want %s: %v", repo, digestOf(body), idx, err)
		}
		for _, im := range imgs {
			if err := verifyImageContent(ctx, rc, repo, im.Manifest, im.Platform, "/usr/local/bin/"+b.Name); err != nil {
				return nil, fmt.Errorf("verify %s: %w", ref, err)
			}
		}
		layout := filepath.Join(a.opts.Dist, fmt.Sprintf("%s-%s.oci.tar", path.Base(name), a.info.Version))
		if _, err := exportLayout(ctx, rc, repo, idx, a.info.Version, layout, a.info.Created); err != nil {
			return nil, fmt.Errorf("export %s: %w", layout, err)
		}
		if a.opts.Load {
			if host == nil {
				return nil, fmt.Errorf("-load: host platform %s is not in -platforms", hostPlatform())
			}
			if err := loadIntoDocker(ctx, host, ref, os.TempDir()); err != nil {
				return nil, err
			}
		}
		sort.Slice(imgs, func(i, j int) bool { return imgs[i].Platform < imgs[j].Platform })
		res = append(res, Published{Ref: ref, Index: idx, Images: imgs, Layout: layout})
	}
	return res, nil
}
