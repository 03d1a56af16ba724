package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Why this file exists: Dagger's Container.Publish (v0.11.4, and v0.19.10 has no option
// for it either) passes the image exporter
// only name/push/oci-mediatypes, never buildkit's "source-date-epoch" attribute. The
// exporter then fills each config's history[].created from the time the layer's
// snapshot was created in this engine and sets config.created from the last history
// entry. Layers are reproducible (Build stamps every file with the commit time), but
// an engine with clean state produces new timestamps, so new config digests and a new
// index digest. normalizeIndex rewrites exactly those fields (plus the arm variant,
// see NormalizeConfig, and the entry order, which follows build completion) to the commit time and
// pushes the resulting configs, manifests and index; everything else is untouched.

type jsonObject = map[string]json.RawMessage

func rawString(m jsonObject, key string) string {
	var s string
	_ = json.Unmarshal(m[key], &s)
	return s
}

func mustRaw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only strings, ints and already valid JSON are marshalled here
	}
	return b
}

// NormalizeConfig sets created and every history entry's created to t, and the
// variant to the index entry's (buildkit leaves it out of arm configs, so a config
// alone would not tell arm/v6 from arm/v7).
func NormalizeConfig(config []byte, t time.Time, variant string) ([]byte, error) {
	var m jsonObject
	if err := json.Unmarshal(config, &m); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if variant != "" {
		m["variant"] = mustRaw(variant)
	}
	ts := mustRaw(t.UTC().Format(time.RFC3339))
	m["created"] = ts
	if h, ok := m["history"]; ok {
		var hist []jsonObject
		if err := json.Unmarshal(h, &hist); err != nil {
			return nil, fmt.Errorf("image config history: %w", err)
		}
		for _, e := range hist {
			e["created"] = ts
		}
		m["history"] = mustRaw(hist)
	}
	return json.Marshal(m)
}

// normalizeIndex rewrites the index at repo@dgst, orders its entries as order (the
// requested platforms) and tags the result with tags. The documents are edited as JSON
// objects, not re-encoded from the library's structs: every field passes through as
// Dagger wrote it, so the bytes (and the digest of a commit's index) are exactly those
// of earlier archway versions. It returns the new index digest.
func normalizeIndex(ctx context.Context, rc *registryClient, repo, dgst string, t time.Time, order, tags []string) (string, error) {
	idx, descs, mt, err := readIndex(ctx, rc, repo, dgst)
	if err != nil {
		return "", err
	}
	for _, d := range descs {
		if err := normalizeEntry(ctx, rc, repo, d, t); err != nil {
			return "", err
		}
	}
	if err := sortByPlatform(descs, order); err != nil {
		return "", err
	}
	idx["manifests"] = mustRaw(descs)
	nidx, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}
	if len(tags) == 0 {
		tags = []string{digestOf(nidx)}
	}
	for _, tag := range tags {
		if _, err := rc.PutManifest(ctx, repo, tag, mt, nidx); err != nil {
			return "", fmt.Errorf("push index %s:%s: %w", repo, tag, err)
		}
	}
	return digestOf(nidx), nil
}

// readIndex fetches the index at repo@dgst as a JSON object, with its manifest entries
// decoded one level (each still a JSON object) and its media type.
func readIndex(ctx context.Context, rc *registryClient, repo, dgst string) (jsonObject, []jsonObject, types.MediaType, error) {
	body, mt, err := rc.Manifest(ctx, repo, dgst)
	if err != nil {
		return nil, nil, "", err
	}
	if !mt.IsIndex() {
		return nil, nil, "", fmt.Errorf("%s@%s is %s, not an index", repo, dgst, mt)
	}
	var idx jsonObject
	if err := json.Unmarshal(body, &idx); err != nil {
		return nil, nil, "", fmt.Errorf("%s@%s: %w", repo, dgst, err)
	}
	var descs []jsonObject
	if err := json.Unmarshal(idx["manifests"], &descs); err != nil {
		return nil, nil, "", fmt.Errorf("index manifests: %w", err)
	}
	return idx, descs, mt, nil
}

// normalizeEntry normalizes the config of the image that index entry d names (see
// NormalizeConfig), pushes the config and the manifest that now points at it, and
// points d at the new manifest.
func normalizeEntry(ctx context.Context, rc *registryClient, repo string, d jsonObject, t time.Time) error {
	mdgst := rawString(d, "digest")
	img, err := rc.Image(ctx, repo, mdgst)
	if err != nil {
		return err
	}
	mbody, err := img.RawManifest()
	if err != nil {
		return err
	}
	cbody, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("manifest %s config: %w", mdgst, err)
	}
	var man, cfg jsonObject
	if err := json.Unmarshal(mbody, &man); err != nil {
		return fmt.Errorf("manifest %s: %w", mdgst, err)
	}
	if err := json.Unmarshal(man["config"], &cfg); err != nil {
		return fmt.Errorf("manifest %s config: %w", mdgst, err)
	}
	plat, err := entryPlatform(d)
	if err != nil {
		return err
	}
	ncfg, err := NormalizeConfig(cbody, t, plat.Variant)
	if err != nil {
		return err
	}
	cd, err := rc.PutBlob(ctx, repo, ncfg, types.MediaType(rawString(cfg, "mediaType")))
	if err != nil {
		return fmt.Errorf("push config: %w", err)
	}
	cfg["digest"], cfg["size"] = mustRaw(cd), mustRaw(len(ncfg))
	man["config"] = mustRaw(cfg)
	nman, err := json.Marshal(man)
	if err != nil {
		return err
	}
	nd, err := rc.PutManifest(ctx, repo, digestOf(nman), types.MediaType(rawString(d, "mediaType")), nman)
	if err != nil {
		return fmt.Errorf("push manifest: %w", err)
	}
	d["digest"], d["size"] = mustRaw(nd), mustRaw(len(nman))
	return nil
}

// sortByPlatform puts the index entries in the requested platform order, entries of
// other platforms last: Dagger assembles the index in the order the platform builds
// finish, so without this the index bytes would not be stable.
func sortByPlatform(descs []jsonObject, order []string) error {
	type ranked struct {
		d    jsonObject
		rank int
	}
	rs := make([]ranked, len(descs))
	for i, d := range descs {
		plat, err := entryPlatform(d)
		if err != nil {
			return err
		}
		rs[i] = ranked{d, len(order)}
		if j := slices.IndexFunc(order, func(p string) bool { return platformMatches(plat, p) }); j >= 0 {
			rs[i].rank = j
		}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return cmp.Compare(a.rank, b.rank) })
	for i, r := range rs {
		descs[i] = r.d
	}
	return nil
}

// entryPlatform is an index entry's platform; an entry without one has the zero
// platform (it matches no requested platform), a malformed one is an error.
func entryPlatform(d jsonObject) (v1.Platform, error) {
	var plat v1.Platform
	raw, ok := d["platform"]
	if !ok {
		return plat, nil
	}
	if err := json.Unmarshal(raw, &plat); err != nil {
		return plat, fmt.Errorf("index entry %s platform %s: %w", rawString(d, "digest"), raw, err)
	}
	return plat, nil
}

// splitRef splits host:port/repo:tag@sha256:… into repo and digest.
func splitRef(ref, registry string) (repo, dgst string, err error) {
	rest, ok := strings.CutPrefix(ref, registry+"/")
	if !ok {
		return "", "", fmt.Errorf("published ref %q is not in registry %s", ref, registry)
	}
	name, dgst, ok := strings.Cut(rest, "@")
	if !ok {
		return "", "", fmt.Errorf("published ref %q has no digest", ref)
	}
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[:i]
	}
	return name, dgst, nil
}
