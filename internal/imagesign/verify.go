package imagesign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// verifySignatures succeeds when one layer of the .sig image sig is a simple-signing
// payload for d with a valid signature by v.
func verifySignatures(sig v1.Image, d name.Digest, v signature.Verifier) error {
	ps, err := payloads(sig)
	if err != nil {
		return err
	}
	last := errors.New("no signature layers")
	for _, p := range ps {
		b64, ok := p.annotations[SignatureAnnotation]
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			last = fmt.Errorf("signature annotation: %v", err)
			continue
		}
		if err := v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(p.body)); err != nil {
			last = errors.New("no signature verifies with this key")
			continue
		}
		var c payload.SimpleContainerImage
		if err := json.Unmarshal(p.body, &c); err != nil {
			last = fmt.Errorf("signed payload: %v", err)
			continue
		}
		if c.Critical.Type != payload.CosignSignatureType || c.Critical.Image.DockerManifestDigest != d.DigestStr() {
			last = fmt.Errorf("signed payload is for %s, not %s", c.Critical.Image.DockerManifestDigest, d.DigestStr())
			continue
		}
		return nil
	}
	return last
}

// VerifySignature checks that d carries a signature by v at its .sig tag.
func VerifySignature(ctx context.Context, d name.Digest, v signature.Verifier, opts ...remote.Option) error {
	opts = append(opts, remote.WithContext(ctx))
	sig, err := readAttachment(d, SigSuffix, opts)
	if err != nil {
		return err
	}
	if sig == nil {
		return fmt.Errorf("%s is not signed (no %s)", d, AttachmentTag(d, SigSuffix).TagStr())
	}
	if err := verifySignatures(sig, d, v); err != nil {
		return fmt.Errorf("%s: signature: %v", d, err)
	}
	return nil
}

// verifyAttestations returns, by predicate type, the statements about d in att whose
// DSSE envelope verifies with v.
func verifyAttestations(att v1.Image, d name.Digest, v signature.Verifier) (map[string]Statement, error) {
	ps, err := payloads(att)
	if err != nil {
		return nil, err
	}
	_, hex, _ := strings.Cut(d.DigestStr(), ":")
	out := map[string]Statement{}
	for _, p := range ps {
		if p.mediaType != DSSEMediaType {
			continue
		}
		if err := dsse.WrapVerifier(v).VerifySignature(bytes.NewReader(p.body), nil); err != nil {
			continue
		}
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if err := json.Unmarshal(p.body, &env); err != nil || env.PayloadType != InTotoPayloadType {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			continue
		}
		var st Statement
		if err := json.Unmarshal(raw, &st); err != nil {
			continue
		}
		for _, s := range st.Subject {
			if s.Digest["sha256"] == hex {
				out[st.PredicateType] = st
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no attestation verifies with this key")
	}
	return out, nil
}

// VerifyAttestations returns the statements about d at its .att tag whose envelopes
// verify with v, by predicate type; every type in want must be there.
func VerifyAttestations(ctx context.Context, d name.Digest, v signature.Verifier, want []string, opts ...remote.Option) (map[string]Statement, error) {
	opts = append(opts, remote.WithContext(ctx))
	att, err := readAttachment(d, AttSuffix, opts)
	if err != nil {
		return nil, err
	}
	if att == nil {
		return nil, fmt.Errorf("%s has no attestations (no %s)", d, AttachmentTag(d, AttSuffix).TagStr())
	}
	have, err := verifyAttestations(att, d, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", d, err)
	}
	for _, t := range want {
		if _, ok := have[t]; !ok {
			return nil, fmt.Errorf("%s: no verified %s attestation", d, t)
		}
	}
	return have, nil
}

// SBOM returns the document at d's .sbom tag.
func SBOM(ctx context.Context, d name.Digest, opts ...remote.Option) ([]byte, error) {
	opts = append(opts, remote.WithContext(ctx))
	img, err := readAttachment(d, SBOMSuffix, opts)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, fmt.Errorf("%s has no SBOM (no %s)", d, AttachmentTag(d, SBOMSuffix).TagStr())
	}
	ps, err := payloads(img)
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("%s: %d SBOM layers, want 1", AttachmentTag(d, SBOMSuffix), len(ps))
	}
	return ps[0].body, nil
}

// VerifyIndex is what a deployer calls before it runs ref (registry/repo:tag or
// @digest): the multi-platform index ref names and every platform manifest in it must
// carry a signature by the public key at pubKeyPath. It returns the digest it verified
// ("sha256:…"): deploy that digest, not the tag, or a tag moved in between runs an
// index nobody verified. The error is one line naming the image and why (unsigned,
// another key, unreadable key, registry unreachable).
func VerifyIndex(ctx context.Context, ref, pubKeyPath string, opts ...remote.Option) (string, error) {
	v, err := LoadPublicKey(pubKeyPath)
	if err != nil {
		return "", err
	}
	return verifyIndex(ctx, ref, v, opts...)
}

func verifyIndex(ctx context.Context, ref string, v signature.Verifier, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %v", ref, err)
	}
	opts = append(opts, remote.WithContext(ctx))
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return "", fmt.Errorf("image %s: %s", ref, oneLine(err))
	}
	d := r.Context().Digest(desc.Digest.String())
	if err := VerifySignature(ctx, d, v, opts...); err != nil {
		return "", fmt.Errorf("image %s: %s", ref, oneLine(err))
	}
	if !desc.MediaType.IsIndex() {
		return desc.Digest.String(), nil
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return "", fmt.Errorf("image %s: %v", ref, err)
	}
	for _, m := range idx.Manifests {
		md := r.Context().Digest(m.Digest.String())
		if err := VerifySignature(ctx, md, v, opts...); err != nil {
			return "", fmt.Errorf("image %s (%s): %s", ref, m.Platform, oneLine(err))
		}
	}
	return desc.Digest.String(), nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
