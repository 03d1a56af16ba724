package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/sync/errgroup"

	"github.com/archwayhq/archway/internal/imagesign"
)

// digestRef is repo@dgst in this registry.
func (r *registryClient) digestRef(repo, dgst string) (name.Digest, error) {
	return name.NewDigest(r.addr+"/"+repo+"@"+dgst, name.Insecure, name.StrictValidation)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// signAndAttest attaches to every platform manifest of s its SBOM (from the build
// info of the binary exes[i] read out of that image's layer) at .sbom and, signed as
// DSSE envelopes at .att, the SBOM and the SLSA provenance; signs every platform
// manifest and, last, the index (cosign's .sig); then verifies all of it with the
// public key alone, as `cosign verify` / `verify-attestation` would.
func (a *Archway) signAndAttest(ctx context.Context, rc *registryClient, s staged, exes [][]byte) error {
	opts := remoteOpts(ctx)
	exePath := "/usr/local/bin/" + s.b.Name
	image := a.opts.Registry + "/" + s.repo
	sboms := make([][]byte, len(s.imgs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, im := range s.imgs {
		g.Go(func() error {
			d, err := rc.digestRef(s.repo, im.Manifest)
			if err != nil {
				return err
			}
			bi, err := buildinfo.Read(bytes.NewReader(exes[i]))
			if err != nil {
				return fmt.Errorf("%s: build info of %s: %v", im.Platform, exePath, err)
			}
			sbom, err := binarySBOM(exes[i], bi, exePath, a.info.Version, a.info.Created)
			if err != nil {
				return fmt.Errorf("%s: SBOM: %v", im.Platform, err)
			}
			sboms[i] = sbom
			sum := sha256.Sum256(exes[i])
			prov := a.provenance(im.Platform, s.b, image, bi, hex.EncodeToString(sum[:]), time.Now())
			provSt, err := imagesign.NewStatement(d, predicateSLSA1, prov)
			if err != nil {
				return err
			}
			sbomSt, err := imagesign.NewStatement(d, predicateCycloneDX, json.RawMessage(sbom))
			if err != nil {
				return err
			}
			if err := imagesign.AttachSBOM(gctx, d, sbom, imagesign.CycloneDXMediaType, opts...); err != nil {
				return fmt.Errorf("%s: %v", im.Platform, err)
			}
			if err := a.key.Attest(gctx, d, [][]byte{sbomSt, provSt}, opts...); err != nil {
				return fmt.Errorf("%s: %v", im.Platform, err)
			}
			if err := a.key.Sign(gctx, d, opts...); err != nil {
				return fmt.Errorf("%s: %v", im.Platform, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	idx, err := rc.digestRef(s.repo, s.index)
	if err != nil {
		return err
	}
	if err := a.key.Sign(ctx, idx, opts...); err != nil {
		return fmt.Errorf("index: %v", err)
	}
	return verifySigned(ctx, rc, s, a.key.PubPEM, sboms)
}

// verifySigned reads back every signature and attestation of s and checks them with
// the public key: the index and each platform signed; each platform's attestations a
// verified SLSA v1 provenance and CycloneDX SBOM about that manifest, the SBOM equal
// to the one made from its binary and to the document at .sbom.
func verifySigned(ctx context.Context, rc *registryClient, s staged, pubPEM []byte, sboms [][]byte) error {
	v, err := imagesign.ParsePublicKey(pubPEM, "cosign.pub")
	if err != nil {
		return err
	}
	opts := remoteOpts(ctx)
	idx, err := rc.digestRef(s.repo, s.index)
	if err != nil {
		return err
	}
	if err := imagesign.VerifySignature(ctx, idx, v, opts...); err != nil {
		return fmt.Errorf("verify: %v", err)
	}
	// The platforms are checked side by side (three registry reads each).
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, im := range s.imgs {
		g.Go(func() error { return verifyPlatformSigned(gctx, rc, s.repo, im, v, sboms[i], opts) })
	}
	return g.Wait()
}

// verifyPlatformSigned checks one platform manifest of a staged index: signed, its
// attestations a verified SLSA v1 provenance and CycloneDX SBOM about that manifest,
// the SBOM equal to sbom (made from its binary) and to the document at .sbom.
func verifyPlatformSigned(ctx context.Context, rc *registryClient, repo string, im PlatformImage, v signature.Verifier, sbom []byte, opts []remote.Option) error {
	d, err := rc.digestRef(repo, im.Manifest)
	if err != nil {
		return err
	}
	if err := imagesign.VerifySignature(ctx, d, v, opts...); err != nil {
		return fmt.Errorf("verify %s: %v", im.Platform, err)
	}
	have, err := imagesign.VerifyAttestations(ctx, d, v, []string{predicateSLSA1, predicateCycloneDX}, opts...)
	if err != nil {
		return fmt.Errorf("verify %s: %v", im.Platform, err)
	}
	var attested, made any
	_ = json.Unmarshal(have[predicateCycloneDX].Predicate, &attested)
	_ = json.Unmarshal(sbom, &made)
	if !reflect.DeepEqual(attested, made) {
		return fmt.Errorf("verify %s: the attested SBOM is not the one of the binary in the image", im.Platform)
	}
	doc, err := imagesign.SBOM(ctx, d, opts...)
	if err != nil {
		return fmt.Errorf("verify %s: %v", im.Platform, err)
	}
	if !bytes.Equal(doc, sbom) {
		return fmt.Errorf("verify %s: the SBOM at %s is not the one of the binary in the image", im.Platform, imagesign.AttachmentTag(d, imagesign.SBOMSuffix).TagStr())
	}
	return nil
}

// signingDir is where setup keeps the pipeline's key pair.
func signingDir(o Options) string { return filepath.Join(o.Provision.Home, "signing") }

// loadSigningKey loads the key publish signs with: -signing-key / ARCHWAY_SIGNING_KEY
// (a file, or the PEM itself, e.g. a CI secret), else the one setup made; the
// passphrase is COSIGN_PASSWORD. Every failure is one line naming the key.
func loadSigningKey(o Options) (*imagesign.Key, error) {
	src := o.SigningKey
	if strings.HasPrefix(strings.TrimSpace(src), "-----BEGIN") {
		return imagesign.LoadKey([]byte(src), o.SigningPassword, "ARCHWAY_SIGNING_KEY")
	}
	if src == "" {
		src = filepath.Join(signingDir(o), imagesign.PrivateKeyFile)
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no signing key: %s does not exist; run `go run ./ci setup` to create it, set ARCHWAY_SIGNING_KEY, or pass -sign=false", src)
		}
	}
	return imagesign.LoadKeyFile(src, o.SigningPassword)
}
