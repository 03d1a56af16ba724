package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
)

// recipeSchema changes when the build steps change in a way the other inputs do not show.
const recipeSchema = 2

// NodePackages are installed in every node rootfs.
var NodePackages = []string{"docker.io", "iptables", "ca-certificates", "iproute2", "procps", "curl"}

// Recipe is everything a node image is built from. Its hash names the image, so an image
// is rebuilt exactly when one of these inputs changes.
type Recipe struct {
	Schema   int      `json:"schema"`
	Arch     string   `json:"arch"`
	Debian   string   `json:"debian"`
	Suite    string   `json:"suite"`
	Mirror   string   `json:"mirror"`
	Variant  string   `json:"variant"`
	Packages []string `json:"packages"`
	// Foreign: built with debootstrap --foreign and unpacked without running package scripts.
	Foreign bool `json:"foreign"`
	// Hybrid: native iptables, containerd shim and runc (behind the wrapper) from the
	// NativeBase rootfs, for an engine that runs under qemu-user.
	Hybrid     bool   `json:"hybrid"`
	NativeBase string `json:"native_base,omitempty"`
	// Entrypoint is the digest of the node entrypoint script.
	Entrypoint string `json:"entrypoint"`
	// Helpers maps helper file names to the digests of their binaries.
	Helpers map[string]string `json:"helpers"`
}

// Hash is the first 12 hex digits of the SHA-256 of the recipe's canonical JSON
// (packages sorted; map keys are sorted by encoding/json).
func (r Recipe) Hash() string {
	c := r
	c.Packages = append([]string(nil), r.Packages...)
	sort.Strings(c.Packages)
	// A struct of strings, bools and a string map always marshals.
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// ImageRepo is the repository of node images on the host engine.
const ImageRepo = "archway/lab-node"

// ImageTag is the node image reference for arch a built from recipe hash h.
func ImageTag(a Arch, h string) string { return ImageRepo + ":" + a.Suffix + "-" + h }

func digestString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
