package lab

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// ProbeRepo is the repository of the lab's own multi-arch test image.
const ProbeRepo = "archway/lab-probe"

var helperProbe = helper{Pkg: "github.com/archwayhq/archway/swarm/lab/cmd/archprobe", Name: "archprobe"}

// BuildProbe builds the archprobe test image FROM scratch for every arch with the legacy
// builder (which records the platform; no pull), pushes one tag per arch to the local
// registry and assembles them into a manifest list <Registry>/<ProbeRepo>:<tag>, returned.
func BuildProbe(ctx context.Context, host *client.Client, home, repoDir, tag string, arches []Arch) (string, error) {
	type entry struct {
		arch   Arch
		digest string
		size   int64
	}
	var entries []entry
	for _, a := range arches {
		bin, err := buildHelper(ctx, repoDir, filepath.Join(home, "lab", "probe"), helperProbe, a.GOARCH, a.GOARM)
		if err != nil {
			return "", err
		}
		data, err := os.ReadFile(bin.Path)
		if err != nil {
			return "", fmt.Errorf("probe: %w", err)
		}
		ref := fmt.Sprintf("%s/%s:%s-%s", Registry, ProbeRepo, tag, a.Suffix)
		if err := buildScratch(ctx, host, a, ref, data); err != nil {
			return "", err
		}
		if err := push(ctx, host, ref); err != nil {
			return "", err
		}
		digest, size, err := manifestDigest(ctx, ProbeRepo, tag+"-"+a.Suffix)
		if err != nil {
			return "", err
		}
		entries = append(entries, entry{a, digest, size})
	}
	type platform struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Variant      string `json:"variant,omitempty"`
	}
	type desc struct {
		MediaType string   `json:"mediaType"`
		Size      int64    `json:"size"`
		Digest    string   `json:"digest"`
		Platform  platform `json:"platform"`
	}
	list := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []desc `json:"manifests"`
	}{SchemaVersion: 2, MediaType: mediaList}
	for _, e := range entries {
		v := ""
		if e.arch.GOARM != "" {
			v = "v" + e.arch.GOARM
		}
		list.Manifests = append(list.Manifests, desc{MediaType: mediaManifest, Size: e.size, Digest: e.digest,
			Platform: platform{Architecture: e.arch.GOARCH, OS: "linux", Variant: v}})
	}
	body, _ := json.Marshal(list)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+Registry+"/v2/"+ProbeRepo+"/manifests/"+tag, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("probe manifest list: %w", err)
	}
	req.Header.Set("Content-Type", mediaList)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("probe manifest list: %w", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("probe manifest list: PUT %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return Registry + "/" + ProbeRepo + ":" + tag, nil
}

const (
	mediaList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

func buildScratch(ctx context.Context, host *client.Client, a Arch, ref string, bin []byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY archprobe /archprobe\nEXPOSE 8080\nENTRYPOINT [\"/archprobe\"]\n")},
		{"archprobe", 0o755, bin},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := host.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags: []string{ref}, Platform: a.Platform(), Version: build.BuilderV1, Remove: true, ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	return nil
}

func push(ctx context.Context, host *client.Client, ref string) error {
	rc, err := host.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

func manifestDigest(ctx context.Context, repo, tag string) (string, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+Registry+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Accept", mediaManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("manifest %s:%s: %w", repo, tag, err)
	}
	resp.Body.Close()
	d := resp.Header.Get("Docker-Content-Digest")
	n, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if resp.StatusCode != http.StatusOK || d == "" || n == 0 {
		return "", 0, fmt.Errorf("manifest %s:%s: %s", repo, tag, resp.Status)
	}
	return d, n, nil
}

// waitHTTP GETs url until it answers or ctx ends.
func waitHTTP(ctx context.Context, url string) (string, error) {
	for {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return strings.TrimSpace(string(b)), nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		} else {
			cancel()
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
