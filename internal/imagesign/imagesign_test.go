package imagesign

import (
	"context"
	"crypto/elliptic"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Key derivation (scrypt) is slow under -race: the test keys are made once.
var testKeys = map[string]struct {
	k   *Key
	pub string
}{}

func testKey(t *testing.T, password string) (*Key, string) {
	t.Helper()
	if tk, ok := testKeys[password]; ok {
		return tk.k, tk.pub
	}
	dir, err := os.MkdirTemp("", "imagesign-test-")
	if err != nil {
		t.Fatal(err)
	}
	if password == "" {
		// Another signer's key, unencrypted (cosign reads those too): no scrypt.
		priv, pub, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), nil)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, PrivateKeyFile), priv, 0o600)
		os.WriteFile(filepath.Join(dir, PublicKeyFile), pub, 0o644)
	} else if created, err := EnsureKeyPair(dir, []byte(password)); err != nil || !created {
		t.Fatalf("EnsureKeyPair: %v %v", created, err)
	}
	k, err := LoadKeyFile(filepath.Join(dir, PrivateKeyFile), []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	testKeys[password] = struct {
		k   *Key
		pub string
	}{k, filepath.Join(dir, PublicKeyFile)}
	return k, filepath.Join(dir, PublicKeyFile)
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, tk := range testKeys {
		os.RemoveAll(filepath.Dir(tk.pub))
	}
	os.Exit(code)
}

// pushIndex pushes a random two-platform index to host/repo:tag.
func pushIndex(t *testing.T, host, repo, tag string) (name.Digest, []name.Digest) {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	ref, _ := name.ParseReference(host + "/" + repo + ":" + tag)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	var plats []name.Digest
	for _, m := range im.Manifests {
		plats = append(plats, ref.Context().Digest(m.Digest.String()))
	}
	return ref.Context().Digest(d.String()), plats
}

func TestSignVerifyIndex(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	k, pub := testKey(t, "s3cret")
	other, otherPub := testKey(t, "")

	idx, plats := pushIndex(t, host, "archway/app", "v1")
	ref := host + "/archway/app:v1"
	if _, err := VerifyIndex(ctx, ref, pub); err == nil || !strings.Contains(err.Error(), "is not signed") {
		t.Fatalf("unsigned index: %v", err)
	}
	for _, d := range append([]name.Digest{idx}, plats...) {
		if err := k.Sign(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := VerifyIndex(ctx, ref, pub); err != nil || !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("signed index: %v", err)
	}
	// Signing again changes nothing: the signature there verifies.
	before, _ := remote.Head(AttachmentTag(idx, SigSuffix))
	if err := k.Sign(ctx, idx); err != nil {
		t.Fatal(err)
	}
	if after, _ := remote.Head(AttachmentTag(idx, SigSuffix)); after.Digest != before.Digest {
		t.Error("re-signing rewrote the signature")
	}
	_, err := VerifyIndex(ctx, ref, otherPub)
	if err == nil || !strings.Contains(err.Error(), "no signature verifies with this key") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("another key: %v", err)
	}
	// Another signer appends; both keys then verify.
	if err := other.Sign(ctx, idx); err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(ctx, idx, other.Verifier()); err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(ctx, idx, k.Verifier()); err != nil {
		t.Fatal(err)
	}
	// A tampered index (one platform dropped, pushed under the tag) has another
	// digest, which nobody signed.
	pushIndex(t, host, "archway/app", "v1")
	if _, err := VerifyIndex(ctx, ref, pub); err == nil || !strings.Contains(err.Error(), "is not signed") {
		t.Fatalf("tampered index: %v", err)
	}
	if _, err := VerifyIndex(ctx, ref, filepath.Join(t.TempDir(), "none.pub")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing key: %v", err)
	}
}

func TestAttestAndSBOM(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	k, _ := testKey(t, "s3cret")
	other, _ := testKey(t, "")
	_, plats := pushIndex(t, host, "archway/proxy", "v1")
	d := plats[0]
	prov, _ := NewStatement(d, "https://slsa.dev/provenance/v1", map[string]any{"buildDefinition": map[string]any{"buildType": "x"}})
	sbom, _ := NewStatement(d, "https://cyclonedx.org/bom", map[string]any{"bomFormat": "CycloneDX"})
	if err := k.Attest(ctx, d, [][]byte{prov, sbom}); err != nil {
		t.Fatal(err)
	}
	have, err := VerifyAttestations(ctx, d, k.Verifier(), []string{"https://slsa.dev/provenance/v1", "https://cyclonedx.org/bom"})
	if err != nil || len(have) != 2 {
		t.Fatalf("attestations: %v %v", have, err)
	}
	if _, err := VerifyAttestations(ctx, d, other.Verifier(), nil); err == nil {
		t.Fatal("another key verified the attestations")
	}
	if _, err := VerifyAttestations(ctx, plats[1], k.Verifier(), nil); err == nil || !strings.Contains(err.Error(), "has no attestations") {
		t.Fatalf("unattested: %v", err)
	}
	// A statement about another digest does not count for d.
	wrong, _ := NewStatement(plats[1], "https://slsa.dev/provenance/v1", map[string]any{})
	if err := k.Attest(ctx, plats[0], [][]byte{wrong}); err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`)
	if err := AttachSBOM(ctx, d, doc, CycloneDXMediaType); err != nil {
		t.Fatal(err)
	}
	if got, err := SBOM(ctx, d); err != nil || string(got) != string(doc) {
		t.Fatalf("SBOM: %s %v", got, err)
	}
}

func TestKeyErrorsAreOneLine(t *testing.T) {
	_, pub := testKey(t, "s3cret")
	dir := t.TempDir()
	priv := filepath.Join(filepath.Dir(pub), PrivateKeyFile)
	b, _ := os.ReadFile(priv)
	if !strings.HasPrefix(string(b), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----") {
		t.Fatalf("not cosign's format: %.40s", b)
	}
	notKey := filepath.Join(dir, "junk")
	os.WriteFile(notKey, []byte("hello"), 0o600)
	unreadable := filepath.Join(dir, "dir.key")
	os.Mkdir(unreadable, 0o700)
	for _, c := range []struct {
		path, password, want string
	}{
		{priv, "wrong", "wrong passphrase (COSIGN_PASSWORD)"},
		{filepath.Join(dir, "missing.key"), "", "no such file or directory"},
		{notKey, "", "not a PEM private key"},
		{unreadable, "", "is a directory"},
	} {
		_, err := LoadKeyFile(c.path, []byte(c.password))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line with %q", c.path, err, c.want)
		}
	}
	if _, err := EnsureKeyPair(filepath.Dir(pub), []byte("wrong")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("EnsureKeyPair of a key it cannot decrypt: %v", err)
	}
}
