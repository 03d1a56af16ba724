package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

type platformSpec struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

func (p platformSpec) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// matches compares with an OCI platform string; arm64 may carry variant v8.
func (p platformSpec) matches(want string) bool {
	if p.String() == want {
		return true
	}
	return want == "linux/arm64" && p.OS == "linux" && p.Architecture == "arm64" && p.Variant == "v8"
}

type descriptor struct {
	MediaType string        `json:"mediaType"`
	Digest    string        `json:"digest"`
	Size      int64         `json:"size"`
	Platform  *platformSpec `json:"platform,omitempty"`
}

// imageManifest is one platform image's manifest: its config and layers.
type imageManifest struct {
	Config descriptor
	Layers []descriptor
}

// compressed is the image's size as stored in the registry: config + layer blobs.
func (m imageManifest) compressed() int64 {
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size
}

// readManifest fetches and decodes the platform manifest dgst; raw is its body as the
// registry serves it.
func readManifest(ctx context.Context, rc *registryClient, repo, dgst string) (man imageManifest, raw []byte, err error) {
	raw, _, err = rc.Manifest(ctx, repo, dgst)
	if err != nil {
		return man, nil, err
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		return man, raw, fmt.Errorf("manifest: %w", err)
	}
	return man, raw, nil
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
	if mt != mtOCIIndex && mt != mtDockerList {
		return "", nil, fmt.Errorf("%s:%s is %q, not an OCI index / manifest list", repo, tag, mt)
	}
	var idx struct{ Manifests []descriptor }
	if err := json.Unmarshal(body, &idx); err != nil {
		return "", nil, fmt.Errorf("%s:%s: %w", repo, tag, err)
	}
	var out []PlatformImage
	var problems []string
	for _, w := range want {
		var found *descriptor
		for i, d := range idx.Manifests {
			if d.Platform != nil && d.Platform.matches(w) {
				found = &idx.Manifests[i]
				break
			}
		}
		if found == nil {
			problems = append(problems, w+": missing from the index")
			continue
		}
		man, _, err := readManifest(ctx, rc, repo, found.Digest)
		if err != nil {
			problems = append(problems, w+": "+err.Error())
			continue
		}
		cbody, err := rc.Blob(ctx, repo, man.Config.Digest)
		if err != nil {
			problems = append(problems, w+": config: "+err.Error())
			continue
		}
		var cfg platformSpec
		if err := json.Unmarshal(cbody, &cfg); err != nil {
			problems = append(problems, w+": config: "+err.Error())
			continue
		}
		if !cfg.matches(w) {
			problems = append(problems, fmt.Sprintf("%s: config says %s", w, cfg))
			continue
		}
		out = append(out, PlatformImage{Platform: w, Manifest: found.Digest, Compressed: man.compressed()})
	}
	if len(idx.Manifests) != len(want) {
		problems = append(problems, fmt.Sprintf("index has %d manifests, want %d", len(idx.Manifests), len(want)))
	}
	if len(problems) > 0 {
		return "", nil, fmt.Errorf("verify %s:%s: %s", repo, tag, strings.Join(problems, "; "))
	}
	return digestOf(body), out, nil
}
