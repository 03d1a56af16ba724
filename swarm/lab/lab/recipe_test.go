package lab

import (
	"regexp"
	"testing"
)

func baseRecipe() Recipe {
	return Recipe{Schema: recipeSchema, Arch: "arm64", Debian: "arm64", Suite: "bookworm", Mirror: "http://deb.debian.org/debian",
		Variant: "minbase", Packages: []string{"docker.io", "iptables"}, Foreign: true, Hybrid: true, NativeBase: "abc",
		Entrypoint: digestString(entrypointScript), Helpers: map[string]string{"archway-regfwd": "1", "runc-wrapper": "2"}}
}

func TestRecipeHashStableAndSensitive(t *testing.T) {
	r := baseRecipe()
	h := r.Hash()
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(h) {
		t.Fatalf("hash %q is not 12 hex digits", h)
	}
	// Package order and map construction order do not matter.
	r2 := baseRecipe()
	r2.Packages = []string{"iptables", "docker.io"}
	r2.Helpers = map[string]string{"runc-wrapper": "2", "archway-regfwd": "1"}
	if r2.Hash() != h {
		t.Fatalf("hash depends on package order: %s vs %s", r2.Hash(), h)
	}
	if r.Packages[0] != "docker.io" {
		t.Fatal("Hash reordered the caller's packages")
	}
	changes := map[string]func(*Recipe){
		"suite":      func(r *Recipe) { r.Suite = "trixie" },
		"mirror":     func(r *Recipe) { r.Mirror = "http://ftp.de.debian.org/debian" },
		"arch":       func(r *Recipe) { r.Debian = "armhf" },
		"package":    func(r *Recipe) { r.Packages = append(r.Packages, "curl") },
		"hybrid":     func(r *Recipe) { r.Hybrid = false },
		"nativebase": func(r *Recipe) { r.NativeBase = "def" },
		"entrypoint": func(r *Recipe) { r.Entrypoint = digestString(entrypointScript + "#") },
		"helper":     func(r *Recipe) { r.Helpers = map[string]string{"archway-regfwd": "9", "runc-wrapper": "2"} },
		"schema":     func(r *Recipe) { r.Schema++ },
	}
	for name, change := range changes {
		c := baseRecipe()
		change(&c)
		if c.Hash() == h {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
}

func TestImageTag(t *testing.T) {
	a, _ := ParseArch("arm/v7")
	if got := ImageTag(a, "0123456789ab"); got != "archway/lab-node:armv7-0123456789ab" {
		t.Fatalf("ImageTag = %s", got)
	}
}
