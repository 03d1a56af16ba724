package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"dagger.io/dagger"
)

// exportLayout writes repo@indexDigest with every blob as an OCI image layout tarball
// (dist/<name>-<version>.oci.tar) for air-gapped transfer: `skopeo copy
// oci-archive:…`, `crane push`, `ctr import`… It is read back from the registry
// rather than produced by Container.Export so that it holds exactly the published
// (normalized) index and digests.
func exportLayout(ctx context.Context, rc *registryClient, repo, indexDigest, version, path string, mtime time.Time) (int64, error) {
	blobs := map[string][]byte{}
	idxBody, mt, err := rc.Manifest(ctx, repo, indexDigest)
	if err != nil {
		return 0, err
	}
	blobs[indexDigest] = idxBody
	var idx struct{ Manifests []descriptor }
	if err := json.Unmarshal(idxBody, &idx); err != nil {
		return 0, err
	}
	for _, d := range idx.Manifests {
		man, mbody, err := readManifest(ctx, rc, repo, d.Digest)
		if err != nil {
			return 0, err
		}
		blobs[d.Digest] = mbody
		for _, b := range append([]descriptor{man.Config}, man.Layers...) {
			if _, ok := blobs[b.Digest]; ok {
				continue
			}
			if blobs[b.Digest], err = rc.Blob(ctx, repo, b.Digest); err != nil {
				return 0, err
			}
		}
	}
	top, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtOCIIndex,
		"manifests": []map[string]any{{
			"mediaType": mt, "digest": indexDigest, "size": len(idxBody),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": version},
		}},
	})
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return 0, err
	}
	if err := add("index.json", top); err != nil {
		return 0, err
	}
	keys := make([]string, 0, len(blobs))
	for k := range blobs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := add("blobs/sha256/"+strings.TrimPrefix(k, "sha256:"), blobs[k]); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return st.Size(), os.Rename(path+".tmp", path)
}

// hostPlatform is the Docker platform of this machine's images.
func hostPlatform() string {
	p := "linux/" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		p += "/v7"
	}
	return p
}

// loadIntoDocker loads one platform variant into the local Docker engine as ref
// (Docker media types: engine 20.10 refuses multi-platform OCI layouts).
func loadIntoDocker(ctx context.Context, img *dagger.Container, ref, tmpDir string) error {
	tarPath := filepath.Join(tmpDir, "load-"+strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	if _, err := img.AsTarball(dagger.ContainerAsTarballOpts{MediaTypes: dagger.ImageMediaTypesDockerMediaTypes}).Export(ctx, tarPath); err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	defer os.Remove(tarPath)
	out, err := exec.CommandContext(ctx, "docker", "load", "-q", "-i", tarPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker load %s: %w: %s", ref, err, out)
	}
	id := strings.TrimSpace(string(out))
	if i := strings.LastIndex(id, " "); i >= 0 {
		id = id[i+1:]
	}
	if out, err := exec.CommandContext(ctx, "docker", "tag", id, ref).CombinedOutput(); err != nil {
		return fmt.Errorf("docker tag %s %s: %w: %s", id, ref, err, out)
	}
	return nil
}
