package imagesign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// cosign's media types and annotation keys (github.com/sigstore/cosign/v2/pkg/types,
// pkg/oci/static).
const (
	SimpleSigningMediaType  types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEMediaType           types.MediaType = "application/vnd.dsse.envelope.v1+json"
	CycloneDXMediaType      types.MediaType = "application/vnd.cyclonedx+json"
	SignatureAnnotation                     = "dev.cosignproject.cosign/signature"
	PredicateTypeAnnotation                 = "predicateType"
	InTotoPayloadType                       = "application/vnd.in-toto+json"
)

// Suffixes of cosign's attachment tags.
const (
	SigSuffix  = "sig"
	AttSuffix  = "att"
	SBOMSuffix = "sbom"
)

// AttachmentTag is cosign's tag for an attachment of d: repo:sha256-<hex>.<suffix>.
func AttachmentTag(d name.Digest, suffix string) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix)
}

// readAttachment returns the image at d's attachment tag, nil if there is none.
func readAttachment(d name.Digest, suffix string, opts []remote.Option) (v1.Image, error) {
	img, err := remote.Image(AttachmentTag(d, suffix), opts...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", AttachmentTag(d, suffix), err)
	}
	return img, nil
}

// layerPayloads are an attachment's layers: content and annotations.
type layerPayload struct {
	body        []byte
	annotations map[string]string
	mediaType   types.MediaType
}

func payloads(img v1.Image) ([]layerPayload, error) {
	man, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []layerPayload
	for _, d := range man.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, layerPayload{body: b.Bytes(), annotations: d.Annotations, mediaType: d.MediaType})
	}
	return out, nil
}

// writeAttachment pushes base (or an empty OCI image) plus layers to d's attachment tag.
func writeAttachment(d name.Digest, suffix string, base v1.Image, layers []mutate.Addendum, opts []remote.Option) error {
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	img, err := mutate.Append(base, layers...)
	if err != nil {
		return err
	}
	tag := AttachmentTag(d, suffix)
	if err := remote.Write(tag, img, opts...); err != nil {
		return fmt.Errorf("push %s: %w", tag, err)
	}
	return nil
}

// SimpleSigningPayload is the payload cosign signs for d.
func SimpleSigningPayload(d name.Digest) ([]byte, error) {
	return payload.Cosign{Image: d}.MarshalJSON()
}

// Sign stores a signature of d by k at d's .sig tag (after any there already, as
// `cosign sign` does), unless a signature of d by k is there already.
func (k *Key) Sign(ctx context.Context, d name.Digest, opts ...remote.Option) error {
	opts = append(opts, remote.WithContext(ctx))
	existing, err := readAttachment(d, SigSuffix, opts)
	if err != nil {
		return err
	}
	if existing != nil {
		if err := verifySignatures(existing, d, k.sv); err == nil {
			return nil
		}
	}
	body, err := SimpleSigningPayload(d)
	if err != nil {
		return err
	}
	sig, err := k.sv.SignMessage(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sign %s: %w", d, err)
	}
	return writeAttachment(d, SigSuffix, existing, []mutate.Addendum{{
		Layer:       static.NewLayer(body, SimpleSigningMediaType),
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}}, opts)
}

// Statement is an in-toto statement about d with one predicate.
type Statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []Subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject of a statement.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// StatementV1 is the in-toto statement type.
const StatementV1 = "https://in-toto.io/Statement/v1"

// NewStatement wraps predicate as an in-toto statement whose subject is d.
func NewStatement(d name.Digest, predicateType string, predicate any) ([]byte, error) {
	p, err := json.Marshal(predicate)
	if err != nil {
		return nil, err
	}
	alg, hex, _ := strings.Cut(d.DigestStr(), ":")
	return json.Marshal(Statement{
		Type:          StatementV1,
		PredicateType: predicateType,
		Subject:       []Subject{{Name: d.Context().Name(), Digest: map[string]string{alg: hex}}},
		Predicate:     p,
	})
}

// Attest signs each statement (in-toto JSON about d) as a DSSE envelope and stores
// them at d's .att tag, unless attestations by k of every one of their predicate
// types are there already (a rerun of the same commit keeps the first run's
// provenance: the build it describes is the one that produced d).
func (k *Key) Attest(ctx context.Context, d name.Digest, statements [][]byte, opts ...remote.Option) error {
	opts = append(opts, remote.WithContext(ctx))
	existing, err := readAttachment(d, AttSuffix, opts)
	if err != nil {
		return err
	}
	var layers []mutate.Addendum
	var types []string
	for _, st := range statements {
		var s Statement
		if err := json.Unmarshal(st, &s); err != nil {
			return fmt.Errorf("attest %s: statement: %w", d, err)
		}
		types = append(types, s.PredicateType)
		env, err := dsse.WrapSigner(k.sv, InTotoPayloadType).SignMessage(bytes.NewReader(st))
		if err != nil {
			return fmt.Errorf("attest %s: %w", d, err)
		}
		layers = append(layers, mutate.Addendum{
			Layer:       static.NewLayer(env, DSSEMediaType),
			Annotations: map[string]string{PredicateTypeAnnotation: s.PredicateType, SignatureAnnotation: ""},
		})
	}
	if existing != nil {
		if have, err := verifyAttestations(existing, d, k.sv); err == nil && coversAll(have, types) {
			return nil
		}
	}
	return writeAttachment(d, AttSuffix, existing, layers, opts)
}

func coversAll(have map[string]Statement, types []string) bool {
	for _, t := range types {
		if _, ok := have[t]; !ok {
			return false
		}
	}
	return true
}

// AttachSBOM stores sbom (mediaType) at d's .sbom tag, as `cosign attach sbom` does,
// replacing what is there unless it is the same document.
func AttachSBOM(ctx context.Context, d name.Digest, sbom []byte, mediaType types.MediaType, opts ...remote.Option) error {
	opts = append(opts, remote.WithContext(ctx))
	existing, err := readAttachment(d, SBOMSuffix, opts)
	if err != nil {
		return err
	}
	if existing != nil {
		if ps, err := payloads(existing); err == nil && len(ps) == 1 && bytes.Equal(ps[0].body, sbom) {
			return nil
		}
	}
	return writeAttachment(d, SBOMSuffix, nil, []mutate.Addendum{{Layer: static.NewLayer(sbom, mediaType)}}, opts)
}
