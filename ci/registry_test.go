package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry serves go-containerregistry's in-memory registry and returns a client.
func testRegistry(t *testing.T) *registryClient {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return newRegistryClient(strings.TrimPrefix(srv.URL, "http://"))
}

const (
	mtOCIIndex    = types.OCIImageIndex
	mtOCIManifest = types.OCIManifestSchema1
	mtOCIConfig   = types.OCIConfigJSON
	mtOCILayer    = types.OCILayer
)

// pushImage stores an index of one manifest per platform whose configs carry the
// given timestamps (what Dagger's publish produces).
func pushImage(t *testing.T, rc *registryClient, repo, tag string, platforms []string, when time.Time) string {
	t.Helper()
	ctx := context.Background()
	layer, _ := rc.PutBlob(ctx, repo, []byte("layer-bytes"), mtOCILayer)
	var descs []map[string]any
	for _, p := range platforms {
		parts := strings.Split(p, "/")
		ps := map[string]any{"os": parts[0], "architecture": parts[1]}
		if len(parts) == 3 {
			ps["variant"] = parts[2]
		}
		cfg := map[string]any{"architecture": parts[1], "os": parts[0], "created": when.Format(time.RFC3339Nano),
			"history": []map[string]any{{"created": when.Format(time.RFC3339Nano), "created_by": "dagger"}}}
		if len(parts) == 3 && parts[1] != "arm" {
			cfg["variant"] = parts[2] // like buildkit: arm configs come without variant
		}
		cb, _ := json.Marshal(cfg)
		cd, err := rc.PutBlob(ctx, repo, cb, mtOCIConfig)
		if err != nil {
			t.Fatal(err)
		}
		man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtOCIManifest,
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cb)},
			"layers": []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 11}}})
		md, err := rc.PutManifest(ctx, repo, digestOf(man), mtOCIManifest, man)
		if err != nil {
			t.Fatal(err)
		}
		descs = append(descs, map[string]any{"mediaType": mtOCIManifest, "digest": md, "size": len(man), "platform": ps})
	}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtOCIIndex, "manifests": descs})
	d, err := rc.PutManifest(ctx, repo, tag, mtOCIIndex, idx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNormalizeMakesIndexDigestReproducible(t *testing.T) {
	rc := testRegistry(t)
	ctx := context.Background()
	commit := time.Unix(1700000000, 0).UTC()

	// Two builds of the same commit whose configs differ only in timestamps.
	d1 := pushImage(t, rc, "archway/app", "build1", DefaultPlatforms, time.Now())
	reversed := append([]string(nil), DefaultPlatforms...)
	slices.Reverse(reversed) // Dagger's index order follows build completion
	d2 := pushImage(t, rc, "archway/app", "build2", reversed, time.Now().Add(time.Hour))
	if d1 == d2 {
		t.Fatal("test setup: raw digests should differ")
	}
	n1, err := normalizeIndex(ctx, rc, "archway/app", d1, commit, DefaultPlatforms, []string{"v1", "latest"})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := normalizeIndex(ctx, rc, "archway/app", d2, commit, DefaultPlatforms, []string{"v1"})
	if err != nil {
		t.Fatal(err)
	}
	if n1 != n2 {
		t.Fatalf("normalized digests differ: %s %s", n1, n2)
	}
	// Before normalization the arm configs lack their variant: verify must say so.
	if _, _, err := verifyIndex(ctx, rc, "archway/app", "build1", DefaultPlatforms); err == nil || !strings.Contains(err.Error(), "linux/arm/v7: config says linux/arm") {
		t.Fatalf("raw index: %v", err)
	}
	got, imgs, err := verifyIndex(ctx, rc, "archway/app", "v1", DefaultPlatforms)
	if err != nil || got != n1 || len(imgs) != 8 {
		t.Fatalf("verify: %s %d %v", got, len(imgs), err)
	}
	for _, im := range imgs {
		img, _ := rc.Image(ctx, "archway/app", im.Manifest)
		cb, _ := img.RawConfigFile()
		if !strings.Contains(string(cb), `"created":"2023-11-14T22:13:20Z"`) || strings.Count(string(cb), "2023-11-14T22:13:20Z") != 2 {
			t.Fatalf("config not normalized: %s", cb)
		}
	}
}

func TestVerifyIndexFailsLoudly(t *testing.T) {
	rc := testRegistry(t)
	ctx := context.Background()
	pushImage(t, rc, "archway/proxy", "v1", DefaultPlatforms[:7], time.Now())
	_, _, err := verifyIndex(ctx, rc, "archway/proxy", "v1", DefaultPlatforms)
	if err == nil || !strings.Contains(err.Error(), "linux/riscv64: missing from the index") {
		t.Fatalf("err %v", err)
	}
	if _, _, err := verifyIndex(ctx, rc, "archway/proxy", "nope", DefaultPlatforms); err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Fatalf("err %v", err)
	}
	// A config whose architecture disagrees with the index entry.
	cb := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd, _ := rc.PutBlob(ctx, "archway/bad", cb, mtOCIConfig)
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "config": map[string]any{"digest": cd, "size": len(cb)}})
	md, _ := rc.PutManifest(ctx, "archway/bad", digestOf(man), mtOCIManifest, man)
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []map[string]any{{"digest": md, "size": len(man), "platform": map[string]string{"os": "linux", "architecture": "arm64"}}}})
	_, _ = rc.PutManifest(ctx, "archway/bad", "v1", mtOCIIndex, idx)
	if _, _, err := verifyIndex(ctx, rc, "archway/bad", "v1", []string{"linux/arm64"}); err == nil || !strings.Contains(err.Error(), "config says linux/amd64") {
		t.Fatalf("err %v", err)
	}
	if err := newRegistryClient("127.0.0.1:1").Ping(ctx); err == nil {
		t.Fatal("ping of a closed port must fail")
	}
}

func TestSplitRef(t *testing.T) {
	repo, d, err := splitRef("127.0.0.1:5000/archway/app:v1@sha256:abc", "127.0.0.1:5000")
	if err != nil || repo != "archway/app" || d != "sha256:abc" {
		t.Fatalf("%s %s %v", repo, d, err)
	}
	if _, _, err := splitRef("127.0.0.1:5000/archway/app:v1", "127.0.0.1:5000"); err == nil {
		t.Fatal("no digest must fail")
	}
}
