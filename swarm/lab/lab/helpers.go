package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// helper is a small static Go program of this repository that goes into node images.
type helper struct {
	// Pkg is the import path built with `go build`.
	Pkg string
	// Name is its file name in the node image.
	Name string
}

var (
	helperRegfwd = helper{Pkg: "github.com/archwayhq/archway/swarm/lab/cmd/regfwd", Name: "archway-regfwd"}
	helperRunc   = helper{Pkg: "github.com/archwayhq/archway/swarm/lab/cmd/runc-wrapper", Name: "runc-wrapper"}
)

// builtHelper is a helper compiled for one GOARCH, with the digest of its bytes (builds
// with -trimpath are reproducible, so the digest is a stable recipe input).
type builtHelper struct {
	Path   string
	Digest string
}

// buildHelper cross-compiles h for goarch/goarm with the host Go (CGO_ENABLED=0) into
// dir. Go's build cache makes a repeat call cheap.
func buildHelper(ctx context.Context, repoDir, dir string, h helper, goarch, goarm string) (builtHelper, error) {
	sub := goarch
	if goarm != "" {
		sub += "v" + goarm
	}
	out := filepath.Join(dir, sub, h.Name)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return builtHelper{}, fmt.Errorf("build %s: %w", h.Name, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, h.Pkg)
	cmd.Dir = repoDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm)
	if b, err := cmd.CombinedOutput(); err != nil {
		return builtHelper{}, fmt.Errorf("go build %s for %s: %w: %s", h.Pkg, sub, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return builtHelper{}, fmt.Errorf("build %s: %w", h.Name, err)
	}
	sum := sha256.Sum256(b)
	return builtHelper{Path: out, Digest: hex.EncodeToString(sum[:])}, nil
}
