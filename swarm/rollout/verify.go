package rollout

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/archwayhq/archway/internal/imagesign"
)

// VerifiedImage checks the signatures of image (registry/repo:tag: the index and every
// platform manifest in it, by the public key at pubKey) and returns the digest it
// verified. A deployer runs that digest. The error is one line, prefixed so the reader
// knows nothing was deployed.
func VerifiedImage(ctx context.Context, image, pubKey string) (string, error) {
	// The registry's credentials from the Docker config, as for the deploy itself.
	d, err := imagesign.VerifyIndex(ctx, image, pubKey, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return "", fmt.Errorf("refusing to deploy %s: %w (skip the check with -verify-key='')", image, err)
	}
	return d, nil
}
