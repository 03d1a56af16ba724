// Package provision brings a host to the state the archway pipeline needs: a Docker
// engine, binfmt for foreign architectures, the local registry, the Dagger CLI and
// engine (built from the Go module proxy when no public engine is reachable) and the
// offline Go build base image. Every step checks first and does nothing when its work
// is already done, so a warm run takes seconds.
package provision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Fixed machine-level names shared with the rest of the project (coord/CONTRACTS.md).
const (
	DaggerVersion = "v0.19.10"
	// MinDaggerVersion is the oldest Dagger CLI (and engine) archway's SDK works with:
	// v0.19's API, which engines up to v0.21 still accept from clients >= v0.19.0.
	MinDaggerVersion = "v0.19.0"
	EngineContainer  = "archway-buildkit"
	// EngineVolume is the engine's state; per engine series, since a v0.19 engine does
	// not read an older one's state.
	EngineVolume      = "archway-dagger-v0.19-state"
	RegistryContainer = "archway-registry"
	RegistryVolume    = "archway-registry-data"
	RegistryAddr      = "127.0.0.1:5000"
	BaseImage         = "archway/base:bookworm"
	// RunnerHost is how the Dagger CLI reaches the provisioned engine.
	RunnerHost = "docker-container://" + EngineContainer
)

// Config is what a setup run needs to know; ConfigFromEnv fills it from the environment.
type Config struct {
	// Home is ARCHWAY_HOME: caches, logs, pid files and the resulting env/state files.
	Home string
	// CacheHome is XDG_CACHE_HOME, where the Dagger SDK looks for its CLI.
	CacheHome string
	// GoImage, when set (ARCHWAY_GO_IMAGE / -go-image), makes the pipeline use that
	// public image as Go build base, so the offline base tarball is not built.
	GoImage string
	// DebianMirror overrides debootstrap's default mirror (ARCHWAY_DEBIAN_MIRROR).
	DebianMirror string
	// ForceBuildEngine skips the probe for a public Dagger engine (ARCHWAY_DAGGER=build).
	ForceBuildEngine bool
}

var goImageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64})?$`)

// ConfigFromEnv reads ARCHWAY_HOME, XDG_CACHE_HOME, ARCHWAY_GO_IMAGE,
// ARCHWAY_DEBIAN_MIRROR and ARCHWAY_DAGGER. getenv is os.Getenv in production.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	home := getenv("HOME")
	cache := getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home == "" {
			return Config{}, fmt.Errorf("neither XDG_CACHE_HOME nor HOME is set: set ARCHWAY_HOME or HOME")
		}
		cache = filepath.Join(home, ".cache")
	}
	c := Config{CacheHome: cache, Home: getenv("ARCHWAY_HOME"), DebianMirror: getenv("ARCHWAY_DEBIAN_MIRROR")}
	if c.Home == "" {
		c.Home = filepath.Join(cache, "archway")
	}
	if !filepath.IsAbs(c.Home) {
		return Config{}, fmt.Errorf("ARCHWAY_HOME=%q: must be an absolute path", c.Home)
	}
	if err := c.SetGoImage(getenv("ARCHWAY_GO_IMAGE")); err != nil {
		return Config{}, fmt.Errorf("ARCHWAY_GO_IMAGE=%q: %w", getenv("ARCHWAY_GO_IMAGE"), err)
	}
	switch v := getenv("ARCHWAY_DAGGER"); v {
	case "", "auto":
	case "build":
		c.ForceBuildEngine = true
	default:
		return Config{}, fmt.Errorf("ARCHWAY_DAGGER=%q: want auto or build", v)
	}
	return c, nil
}

// SetGoImage validates and sets the online Go base image ("" = offline base); the
// caller's error names the setting and the value.
func (c *Config) SetGoImage(ref string) error {
	if ref != "" && !goImageRE.MatchString(ref) {
		return errors.New("not an image reference (e.g. golang:1.26.0-bookworm)")
	}
	c.GoImage = ref
	return nil
}

func (c Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.Home}, elem...)...)
}

// BaseTarball is the docker-save tarball of BaseImage the pipeline imports.
// Its name carries the base recipe, so a new recipe never loads an old tarball.
func (c Config) BaseTarball() string {
	return c.path("base", "archway-base-bookworm-"+BaseRootfs.Key()+".docker.tar")
}

// EnvFile is the shell file setup writes (`. $ARCHWAY_HOME/env`).
func (c Config) EnvFile() string { return c.path("env") }

// CLIPath is the project's copy of the Dagger CLI.
func (c Config) CLIPath() string { return c.path("bin", "dagger") }

// SDKCLIPath is where dagger.io/dagger looks for its CLI before downloading one.
func (c Config) SDKCLIPath() string {
	return filepath.Join(c.CacheHome, "dagger", "dagger-"+strings.TrimPrefix(DaggerVersion, "v"))
}

func (c Config) mkdirs() error {
	for _, d := range []string{"bin", "logs", "run", "base", "rootfs", "debs", "dagger", "registry"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", c.path(d), err)
		}
	}
	return nil
}
