package rollout

import (
	"fmt"

	"github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// RegistryAuth is the credential for image's registry as the docker CLI would send it
// (`docker service update --with-registry-auth`): from the Docker config
// ($DOCKER_CONFIG/config.json, its credential helpers), encoded for the Engine API's
// X-Registry-Auth. A registry without a credential there gets "" (anonymous), as the
// project's local registry does. Without it a private registry's image cannot be
// inspected by the manager, nor pulled by the nodes.
func RegistryAuth(image string) (string, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	a, err := authn.DefaultKeychain.Resolve(ref.Context())
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", ref.Context().RegistryStr(), err)
	}
	if a == authn.Anonymous {
		return "", nil
	}
	c, err := a.Authorization()
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", ref.Context().RegistryStr(), err)
	}
	if *c == (authn.AuthConfig{}) {
		return "", nil
	}
	enc, err := registry.EncodeAuthConfig(registry.AuthConfig{
		Username: c.Username, Password: c.Password, Auth: c.Auth,
		IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
		ServerAddress: ref.Context().RegistryStr(),
	})
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", ref.Context().RegistryStr(), err)
	}
	return enc, nil
}
