package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/internal/imagesign"
	"github.com/archwayhq/archway/swarm/lab/lab"
	"github.com/archwayhq/archway/swarm/rollout"
	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// pipelineKey is the public key the pipeline signs with ($ARCHWAY_HOME/signing).
func pipelineKey(t *testing.T) string {
	t.Helper()
	home, err := lab.Home()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(home, "signing", "cosign.pub")
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("the pipeline's public key: %v (run `go run ./ci setup` and the pipeline first)", err)
	}
	return key
}

// TestDeployRefusesUnsigned: the published app index verifies with the pipeline's key
// (and not with another); a copy of it changed by one annotation — a new digest nobody
// signed — is refused by `demo deploy` in one line before anything reaches the cluster.
func TestDeployRefusesUnsigned(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	key := pipelineKey(t)

	d, err := rollout.VerifiedImage(t.Context(), c.AppImage, key)
	if err != nil {
		t.Fatalf("the pipeline's app index: %v", err)
	}
	t.Logf("%s verified: %s", c.AppImage, d)
	_, otherPub, err := imagesign.GenerateKeyPair([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.pub")
	if err := os.WriteFile(other, otherPub, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rollout.VerifiedImage(t.Context(), c.AppImage, other); err == nil {
		t.Fatal("the app index verified with a key that never signed it")
	} else {
		t.Logf("another key: %v", err)
	}

	ref, err := st.ParseImageRef(c.AppImage)
	if err != nil {
		t.Fatal(err)
	}
	idx, mt, err := st.FetchIndex(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Annotations == nil {
		idx.Annotations = map[string]string{}
	}
	idx.Annotations["org.archway.test.unsigned"] = c.RunID
	unsigned := st.ImageRef{Registry: ref.Registry, Repo: ref.Repo, Tag: "unsigned-" + c.RunID}
	if err := st.PushIndex(t.Context(), unsigned, idx, mt); err != nil {
		t.Fatal(err)
	}

	stack := "refused-" + c.RunID
	demo := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", demo, "github.com/archwayhq/archway/swarm/demo").CombinedOutput(); err != nil {
		t.Fatalf("build swarm/demo: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), demo, "-stack", stack, "-registry", ref.Registry, "-tag", unsigned.Tag,
		"-verify-key", key, "-admin-token-file", filepath.Join(t.TempDir(), "admin.token"), "deploy")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+c.DockerHost())
	out, err := cmd.CombinedOutput()
	t.Logf("demo deploy of %s:\n%s", unsigned, out)
	if err == nil || !strings.Contains(string(out), "refusing to deploy "+unsigned.String()) || !strings.Contains(string(out), "is not signed") {
		t.Fatalf("demo deploy of an unsigned index: %v; want a refusal naming it as not signed", err)
	}
	if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n > 1 {
		t.Errorf("the refusal is %d lines, want one (after the cluster line)", n+1)
	}
	svcs, err := c.Client.ServiceList(t.Context(), swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.stack.namespace="+stack))})
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) > 0 {
		t.Fatalf("the refused deploy created %d services", len(svcs))
	}
}
