package swarmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Media types of multi-platform images.
const (
	mediaOCIIndex   = "application/vnd.oci.image.index.v1+json"
	mediaDockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
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

// FetchIndex reads an image's index from its registry over plain HTTP (the local registry
// and 127.0.0.0/8 are insecure registries by default).
func FetchIndex(ctx context.Context, ref ImageRef) (Index, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := "http://" + ref.Registry + "/v2/" + ref.Repo + "/manifests/" + ref.Tag
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Index{}, "", err
	}
	req.Header.Set("Accept", mediaOCIIndex+", "+mediaDockerList)
	resp, err := httpClient.Do(req)
	if err != nil {
		return Index{}, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return Index{}, "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, firstLine(body))
	}
	mt := resp.Header.Get("Content-Type")
	if mt != mediaOCIIndex && mt != mediaDockerList {
		return Index{}, "", fmt.Errorf("GET %s: %s is %s, not a multi-platform index", url, ref, mt)
	}
	var idx Index
	if err := json.Unmarshal(body, &idx); err != nil {
		return Index{}, "", fmt.Errorf("GET %s: %w", url, err)
	}
	return idx, mt, nil
}

// PushIndex stores idx under ref (same repository as the manifests it lists).
func PushIndex(ctx context.Context, ref ImageRef, idx Index, mediaType string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	idx.MediaType = mediaType
	body, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	url := "http://" + ref.Registry + "/v2/" + ref.Repo + "/manifests/" + ref.Tag
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s: %s: %s", url, resp.Status, firstLine(b))
	}
	return nil
}

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
