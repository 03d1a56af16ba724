package rollout

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker/api/types/registry"
)

func TestRegistryAuth(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"auths": {"reg.example:5000": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("ops:s3cret")) + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)

	enc, err := RegistryAuth("reg.example:5000/team/app:v2")
	if err != nil || enc == "" {
		t.Fatalf("RegistryAuth: %q, %v", enc, err)
	}
	raw, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	var got registry.AuthConfig
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Username != "ops" || got.Password != "s3cret" || got.ServerAddress != "reg.example:5000" {
		t.Errorf("encoded %+v", got)
	}
	// A registry the config does not name is anonymous: nothing is sent.
	if enc, err := RegistryAuth("127.0.0.1:5000/archway/app:latest"); err != nil || enc != "" {
		t.Errorf("anonymous registry: %q, %v", enc, err)
	}
	if _, err := RegistryAuth("Not A Ref"); err == nil {
		t.Error("a malformed reference gave no error")
	}
}
