package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/internal/smallfile"
	"github.com/archwayhq/archway/proxy"
)

// AdminSecret is the Docker secret the stack gives the proxy as ADMIN_TOKEN_FILE
// (swarm/stack.yml, secrets.admin_token; ADMIN_TOKEN_SECRET renames it).
const AdminSecret = "archway_admin_token"

// SecretAPI is the part of the Docker client EnsureAdminSecret needs.
type SecretAPI interface {
	SecretList(ctx context.Context, options swarm.SecretListOptions) ([]swarm.Secret, error)
	SecretCreate(ctx context.Context, secret swarm.SecretSpec) (swarm.SecretCreateResponse, error)
}

// ReadAdminToken reads an admin token file as the proxy does (at most
// proxy.MaxTokenFile bytes, surrounding white space trimmed); every error names the
// file.
func ReadAdminToken(path string) (string, error) {
	b, err := smallfile.Read(path, proxy.MaxTokenFile)
	if err != nil {
		return "", fmt.Errorf("admin token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin token file %s: empty", path)
	}
	return tok, nil
}

// EnsureAdminToken returns the token in path, creating the file (0600, 32 random bytes
// in hex) when it does not exist yet — the demo's stand-in for an operator's
// `openssl rand -hex 32 > admin.token`.
func EnsureAdminToken(path string) (tok string, created bool, err error) {
	tok, err = ReadAdminToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	tok = hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("admin token file: %w", err)
	}
	// O_EXCL: two demos racing never overwrite the token the other put in a secret.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("admin token file: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("admin token file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("admin token file %s: %w", path, err)
	}
	return tok, true, nil
}

// EnsureAdminSecret creates the Docker secret name from the token when the cluster
// has none of that name (EnsureSecret).
func EnsureAdminSecret(ctx context.Context, api SecretAPI, name, token, tokenFile string, created bool) (bool, error) {
	return EnsureSecret(ctx, api, name, []byte(token+"\n"), tokenFile, created)
}

// EnsureSecret creates the Docker secret name holding data (read from file) when the
// cluster has none of that name, and reports whether it did. Docker never reads a
// secret back, so an existing secret is taken as made from file; when file was just
// created (created), an existing secret cannot hold it, and that is an error saying
// how to start over.
func EnsureSecret(ctx context.Context, api SecretAPI, name string, data []byte, file string, created bool) (bool, error) {
	list, err := api.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return false, fmt.Errorf("docker secret ls: %w", err)
	}
	for _, s := range list {
		if s.Spec.Name != name {
			continue // the name filter matches prefixes
		}
		if created {
			return false, fmt.Errorf("secret %s exists but %s was missing, so what it holds is unknown here: give the file it was created from, or remove the stack and the secret (docker stack rm …; docker secret rm %s) and deploy again", name, file, name)
		}
		return false, nil
	}
	_, err = api.SecretCreate(ctx, swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{"archway.role": "demo"}},
		Data:        data,
	})
	if err != nil {
		return false, fmt.Errorf("docker secret create %s: %w", name, err)
	}
	return true, nil
}
