package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// registryClient is the project registry as go-containerregistry sees it: references
// in one repository namespace, plain HTTP (the registry is on loopback, an insecure
// registry for every engine). Every read by digest is checked against its digest by
// the library.
type registryClient struct {
	addr string // host:port
}

func newRegistryClient(addr string) *registryClient { return &registryClient{addr: addr} }

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// ref is repo:tag or repo@digest in this registry.
func (r *registryClient) ref(repo, id string) (name.Reference, error) {
	sep := ":"
	if strings.HasPrefix(id, "sha256:") {
		sep = "@"
	}
	return name.ParseReference(r.addr+"/"+repo+sep+id, name.Insecure, name.StrictValidation)
}

func (r *registryClient) repo(repo string) (name.Repository, error) {
	return name.NewRepository(r.addr+"/"+repo, name.Insecure, name.StrictValidation)
}

func remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithUserAgent("archway-ci")}
}

// Ping fails with a clear message when the registry cannot be reached.
func (r *registryClient) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reg, err := name.NewRegistry(r.addr, name.Insecure)
	if err != nil {
		return err
	}
	_, err = transport.Ping(ctx, reg, http.DefaultTransport)
	return err
}

// Manifest fetches a manifest or index by tag or digest (a digest is checked).
func (r *registryClient) Manifest(ctx context.Context, repo, id string) (body []byte, mediaType types.MediaType, err error) {
	ref, err := r.ref(repo, id)
	if err != nil {
		return nil, "", err
	}
	d, err := remote.Get(ref, remoteOpts(ctx)...)
	if err != nil {
		return nil, "", err
	}
	return d.Manifest, d.MediaType, nil
}

// Image is the platform image repo@dgst: its manifest, config and layers on demand.
func (r *registryClient) Image(ctx context.Context, repo, dgst string) (v1.Image, error) {
	ref, err := r.ref(repo, dgst)
	if err != nil {
		return nil, err
	}
	return remote.Image(ref, remoteOpts(ctx)...)
}

// PutBlob uploads b unless the registry has it already and returns its digest.
func (r *registryClient) PutBlob(ctx context.Context, repo string, b []byte, mediaType types.MediaType) (string, error) {
	rp, err := r.repo(repo)
	if err != nil {
		return "", err
	}
	if err := remote.WriteLayer(rp, static.NewLayer(b, mediaType), remoteOpts(ctx)...); err != nil {
		return "", err
	}
	return digestOf(b), nil
}

// rawManifest is a manifest or index pushed byte for byte as given.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// PutManifest stores body under id (a tag, or its digest) and returns its digest.
func (r *registryClient) PutManifest(ctx context.Context, repo, id string, mediaType types.MediaType, body []byte) (string, error) {
	ref, err := r.ref(repo, id)
	if err != nil {
		return "", err
	}
	if err := remote.Put(ref, rawManifest{body, mediaType}, remoteOpts(ctx)...); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return digestOf(body), nil
}
