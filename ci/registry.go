package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Media types the registry may answer with.
const (
	mtOCIIndex     = "application/vnd.oci.image.index.v1+json"
	mtOCIManifest  = "application/vnd.oci.image.manifest.v1+json"
	mtDockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerManif  = "application/vnd.docker.distribution.manifest.v2+json"
	acceptManifest = mtOCIIndex + ", " + mtDockerList + ", " + mtOCIManifest + ", " + mtDockerManif
)

// registryClient speaks the registry v2 HTTP API (plain HTTP: the project registry
// is on loopback, an insecure registry for every engine).
type registryClient struct {
	base string // http://host:port
	http *http.Client
}

func newRegistryClient(addr string) *registryClient {
	return &registryClient{base: "http://" + addr, http: &http.Client{Timeout: 60 * time.Second}}
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Ping fails with a clear message when the registry cannot be reached.
func (r *registryClient) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/v2/", nil)
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/v2/: %s", r.base, resp.Status)
	}
	return nil
}

func (r *registryClient) do(ctx context.Context, method, u, contentType string, body []byte, accept string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode >= 300 {
		return resp, b, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, b, nil
}

// Manifest fetches a manifest or index by tag or digest and checks its digest.
func (r *registryClient) Manifest(ctx context.Context, repo, ref string) (body []byte, mediaType string, err error) {
	resp, b, err := r.do(ctx, http.MethodGet, r.base+"/v2/"+repo+"/manifests/"+ref, "", nil, acceptManifest)
	if err != nil {
		return nil, "", err
	}
	if strings.HasPrefix(ref, "sha256:") && digestOf(b) != ref {
		return nil, "", fmt.Errorf("manifest %s@%s: content digest is %s", repo, ref, digestOf(b))
	}
	return b, strings.Split(resp.Header.Get("Content-Type"), ";")[0], nil
}

// Blob fetches a blob and checks its digest.
func (r *registryClient) Blob(ctx context.Context, repo, dgst string) ([]byte, error) {
	_, b, err := r.do(ctx, http.MethodGet, r.base+"/v2/"+repo+"/blobs/"+dgst, "", nil, "")
	if err != nil {
		return nil, err
	}
	if digestOf(b) != dgst {
		return nil, fmt.Errorf("blob %s@%s: content digest is %s", repo, dgst, digestOf(b))
	}
	return b, nil
}

// PutBlob uploads a blob in one request unless the registry has it already.
func (r *registryClient) PutBlob(ctx context.Context, repo string, b []byte) (string, error) {
	dgst := digestOf(b)
	if resp, _, err := r.do(ctx, http.MethodHead, r.base+"/v2/"+repo+"/blobs/"+dgst, "", nil, ""); err == nil && resp.StatusCode == http.StatusOK {
		return dgst, nil
	}
	resp, _, err := r.do(ctx, http.MethodPost, r.base+"/v2/"+repo+"/blobs/uploads/", "", nil, "")
	if err != nil {
		return "", err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", fmt.Errorf("upload location: %w", err)
	}
	base, _ := url.Parse(r.base)
	loc = base.ResolveReference(loc)
	q := loc.Query()
	q.Set("digest", dgst)
	loc.RawQuery = q.Encode()
	if _, _, err := r.do(ctx, http.MethodPut, loc.String(), "application/octet-stream", b, ""); err != nil {
		return "", err
	}
	return dgst, nil
}

// PutManifest stores a manifest or index under ref (a tag or its digest).
func (r *registryClient) PutManifest(ctx context.Context, repo, ref, mediaType string, b []byte) (string, error) {
	_, _, err := r.do(ctx, http.MethodPut, r.base+"/v2/"+repo+"/manifests/"+ref, mediaType, b, "")
	return digestOf(b), err
}
