package rollout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

type fakeSecrets struct {
	names   []string
	created []swarm.SecretSpec
}

func (f *fakeSecrets) SecretList(_ context.Context, _ swarm.SecretListOptions) ([]swarm.Secret, error) {
	var out []swarm.Secret
	for _, n := range f.names {
		out = append(out, swarm.Secret{Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: n}}})
	}
	return out, nil
}

func (f *fakeSecrets) SecretCreate(_ context.Context, s swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	f.created = append(f.created, s)
	return swarm.SecretCreateResponse{ID: "x"}, nil
}

func TestEnsureAdminTokenCreatesOnceAndReuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "admin.token")
	tok, created, err := EnsureAdminToken(path)
	if err != nil || !created || len(tok) != 64 {
		t.Fatalf("first: %q %v %v", tok, created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", fi.Mode(), err)
	}
	again, created, err := EnsureAdminToken(path)
	if err != nil || created || again != tok {
		t.Fatalf("second: %q %v %v; want the same token, not created", again, created, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureAdminToken(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v; want an error saying so (never a silent new token)", err)
	}
}

func TestEnsureAdminSecret(t *testing.T) {
	ctx := t.Context()
	f := &fakeSecrets{names: []string{AdminSecret + "_old"}} // a prefix match is another secret
	made, err := EnsureAdminSecret(ctx, f, AdminSecret, "tok", "/f", false)
	if err != nil || !made || len(f.created) != 1 || string(f.created[0].Data) != "tok\n" || f.created[0].Name != AdminSecret {
		t.Fatalf("absent: made=%v err=%v created=%+v", made, err, f.created)
	}
	f = &fakeSecrets{names: []string{AdminSecret}}
	if made, err := EnsureAdminSecret(ctx, f, AdminSecret, "tok", "/f", false); err != nil || made || len(f.created) != 0 {
		t.Fatalf("present: made=%v err=%v", made, err)
	}
	if _, err := EnsureAdminSecret(ctx, f, AdminSecret, "tok", "/f", true); err == nil || !strings.Contains(err.Error(), "docker secret rm "+AdminSecret) {
		t.Fatalf("present with a new token file: %v; want an error naming the fix", err)
	}
}

// ReadAdminToken reads a token file as the proxy does, and refuses at once what is not
// a small regular file: a device such as /dev/zero would otherwise be read until
// memory ran out (and a FIFO would block the command for good).
func TestReadAdminTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(path, []byte("  0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := ReadAdminToken(path); err != nil || tok != "0123456789abcdef" {
		t.Fatalf("ReadAdminToken = %q, %v", tok, err)
	}
	if _, err := ReadAdminToken("/dev/zero"); err == nil || err.Error() != "admin token file /dev/zero: not a regular file" {
		t.Fatalf("/dev/zero: %v", err)
	}
	if _, err := TrustCA("/dev/zero"); err == nil || err.Error() != "CA file /dev/zero: not a regular file" {
		t.Fatalf("TrustCA(/dev/zero): %v", err)
	}
}
