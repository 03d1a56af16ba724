package rollout

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureDemoCert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	dc, err := EnsureDemoCert(dir, []string{"localhost", "172.17.0.4"})
	if err != nil || !dc.Created {
		t.Fatalf("first: %+v %v", dc, err)
	}
	again, err := EnsureDemoCert(dir, []string{"172.17.0.4"})
	if err != nil || again.Created {
		t.Fatalf("second: %+v %v; want the same files, not created", again, err)
	}
	if _, err := EnsureDemoCert(dir, []string{"172.17.0.9"}); err == nil || !strings.Contains(err.Error(), "does not name 172.17.0.9") {
		t.Fatalf("a host the certificate lacks: %v; want an error naming it", err)
	}
}
