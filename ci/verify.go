package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// platformMatches compares with an OCI platform string; arm64 may carry variant v8.
func platformMatches(p v1.Platform, want string) bool {
	got := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		got += "/" + p.Variant
	}
	if got == want {
		return true
	}
	return want == "linux/arm64" && p.OS == "linux" && p.Architecture == "arm64" && p.Variant == "v8"
}

// compressed is an image's size as stored in the registry: config + layer blobs.
func compressed(m *v1.Manifest) int64 {
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size
}

// PlatformImage is one verified entry of an index.
type PlatformImage struct {
	Platform   string
	Manifest   string
	Compressed int64 // config + layer blobs as stored in the registry
}

// verifyIndex reads repo:tag back from the registry and checks that it is an index
// holding exactly the wanted platforms, each manifest's config saying the same
// os/architecture/variant.
func verifyIndex(ctx context.Context, rc *registryClient, repo, tag string, want []string) (string, []PlatformImage, error) {
	body, mt, err := rc.Manifest(ctx, repo, tag)
	if err != nil {
		return "", nil, fmt.Errorf("read back %s:%s: %w", repo, tag, err)
	}
	if !mt.IsIndex() {
		return "", nil, fmt.Errorf("%s:%s is %q, not an OCI index / manifest list", repo, tag, mt)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
	if err != nil {
		return "", nil, fmt.Errorf("%s:%s: %w", repo, tag, err)
	}
	var out []PlatformImage
	var problems []string
	for _, w := range want {
		var found *v1.Descriptor
		for i, d := range idx.Manifests {
			if d.Platform != nil && platformMatches(*d.Platform, w) {
				found = &idx.Manifests[i]
				break
			}
		}
		if found == nil {
			problems = append(problems, w+": missing from the index")
			continue
		}
		img, err := rc.Image(ctx, repo, found.Digest.String())
		if err != nil {
			problems = append(problems, w+": "+err.Error())
			continue
		}
		man, err := img.Manifest()
		if err != nil {
			problems = append(problems, w+": "+err.Error())
			continue
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			problems = append(problems, w+": config: "+err.Error())
			continue
		}
		if cp := cfg.Platform(); cp == nil || !platformMatches(*cp, w) {
			problems = append(problems, fmt.Sprintf("%s: config says %s", w, cfg.Platform()))
			continue
		}
		out = append(out, PlatformImage{Platform: w, Manifest: found.Digest.String(), Compressed: compressed(man)})
	}
	if len(idx.Manifests) != len(want) {
		problems = append(problems, fmt.Sprintf("index has %d manifests, want %d", len(idx.Manifests), len(want)))
	}
	if len(problems) > 0 {
		return "", nil, fmt.Errorf("verify %s:%s: %s", repo, tag, strings.Join(problems, "; "))
	}
	return digestOf(body), out, nil
}
