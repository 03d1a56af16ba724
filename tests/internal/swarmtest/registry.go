package swarmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageRef is a registry/repository:tag reference.
type ImageRef struct {
	Registry, Repo, Tag string
}

func (r ImageRef) String() string { return r.Registry + "/" + r.Repo + ":" + r.Tag }

// ParseImageRef splits "host:port/repo/name:tag" (the registry part is required: the suite
// pushes to the registry the images come from).
func ParseImageRef(s string) (ImageRef, error) {
	reg, rest, ok := strings.Cut(s, "/")
	if !ok || !(strings.ContainsAny(reg, ".:") || reg == "localhost") {
		return ImageRef{}, fmt.Errorf("image %q: want registry/repository:tag", s)
	}
	if i := strings.Index(rest, "@"); i >= 0 {
		return ImageRef{}, fmt.Errorf("image %q: want a tag, not a digest", s)
	}
	repo, tag := rest, "latest"
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		repo, tag = rest[:i], rest[i+1:]
	}
	return ImageRef{Registry: reg, Repo: repo, Tag: tag}, nil
}

// Index is the subset of an OCI image index (or Docker manifest list) the suite edits.
type Index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	Manifests     []IndexEntry      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// IndexEntry is one platform's manifest in an index.
type IndexEntry struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform of an index entry.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

func (p *Platform) String() string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func (r ImageRef) reference() (name.Reference, error) {
	return name.ParseReference(r.String(), name.Insecure)
}

// FetchIndex reads an image's index from its registry over plain HTTP (the local registry
// and 127.0.0.0/8 are insecure registries by default).
func FetchIndex(ctx context.Context, ref ImageRef) (Index, types.MediaType, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := ref.reference()
	if err != nil {
		return Index{}, "", err
	}
	d, err := remote.Get(r, remote.WithContext(ctx))
	if err != nil {
		return Index{}, "", fmt.Errorf("read %s: %w", ref, err)
	}
	if !d.MediaType.IsIndex() {
		return Index{}, "", fmt.Errorf("read %s: %s, not a multi-platform index", ref, d.MediaType)
	}
	var idx Index
	if err := json.Unmarshal(d.Manifest, &idx); err != nil {
		return Index{}, "", fmt.Errorf("read %s: %w", ref, err)
	}
	return idx, d.MediaType, nil
}

// PushIndex stores idx under ref (same repository as the manifests it lists).
func PushIndex(ctx context.Context, ref ImageRef, idx Index, mediaType types.MediaType) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	idx.MediaType = string(mediaType)
	body, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	r, err := ref.reference()
	if err != nil {
		return err
	}
	if err := remote.Put(r, rawIndex{body, mediaType}, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

type rawIndex struct {
	body []byte
	mt   types.MediaType
}

func (m rawIndex) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawIndex) MediaType() (types.MediaType, error) { return m.mt, nil }

// WithoutArches returns idx keeping only entries whose GOARCH is not in arches (attestation
// entries, platform unknown/unknown, are dropped too).
func (idx Index) WithoutArches(arches []string) Index {
	drop := map[string]bool{}
	for _, a := range arches {
		drop[a] = true
	}
	out := idx
	out.Manifests = nil
	for _, m := range idx.Manifests {
		if m.Platform == nil || m.Platform.OS != "linux" || drop[m.Platform.Architecture] {
			continue
		}
		out.Manifests = append(out.Manifests, m)
	}
	return out
}

// Platforms lists the platforms of an index.
func (idx Index) Platforms() []string {
	var out []string
	for _, m := range idx.Manifests {
		out = append(out, m.Platform.String())
	}
	return out
}
