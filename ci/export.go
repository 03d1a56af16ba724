package main

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"dagger.io/dagger"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// exportLayout writes repo@indexDigest with every blob as an OCI image layout tarball
// (dist/<name>-<version>.oci.tar) for air-gapped transfer: `skopeo copy
// oci-archive:…`, `crane push`, `ctr import`… It is read back from the registry
// rather than produced by Container.Export so that it holds exactly the published
// (normalized) index and digests. The layout is written by go-containerregistry, then
// packed in name order with one mtime so the tarball is reproducible too.
func exportLayout(ctx context.Context, rc *registryClient, repo, indexDigest, version, path string, mtime time.Time) (int64, error) {
	ref, err := rc.ref(repo, indexDigest)
	if err != nil {
		return 0, err
	}
	idx, err := remote.Index(ref, remoteOpts(ctx)...)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "archway-layout-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return 0, err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version})); err != nil {
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
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		return 0, err
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
