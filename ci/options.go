package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/archwayhq/archway/internal/provision"
)

// Stages in pipeline order; "all" runs lint → test → build → publish.
var stages = []string{"setup", "lint", "test", "build", "publish", "all"}

// DefaultPlatforms are the 8 platforms every archway image index carries.
var DefaultPlatforms = []string{
	"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6",
	"linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64",
}

// Options is the parsed command line + environment.
type Options struct {
	Stage      string
	Registry   string
	ProxyImage string
	AppImage   string
	Tag        string // "" = derived from git at run time
	Platforms  []string
	GoImage    string // "" = offline base tarball
	GoBase     string // docker-save tarball of the offline base; "" = from setup state
	Load       bool
	Verbose    bool
	Dist       string
	Source     string
	Provision  provision.Config
	// Sign: sign and attest what publish pushes (default true).
	Sign bool
	// SigningKey is a cosign private key file, or the PEM itself ("" = the key
	// setup created under $ARCHWAY_HOME/signing); SigningPassword decrypts it.
	SigningKey      string
	SigningPassword []byte
}

var (
	imageNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
	tagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

const usage = `usage: go run ./ci [flags] [stage] [flags]

stages:
  setup    provision the host: Docker engine, binfmt, registry, Dagger CLI+engine, Go base
  lint     gofmt -l, go vet ./..., go tool staticcheck ./... in the build base container
  test     go test -race of the unit packages (not ./tests, ./ci)
  build    cross-compile archway-proxy and archway-app for every platform (no emulation)
  publish  build the images, publish one index per image (<tag> and latest), verify, sign and
           attest (SBOM + SLSA provenance per platform, cosign's formats), verify those, export to dist/
  all      lint → test → build → publish, stopping at the first failure (default)

flags (each also read from the environment variable shown):
`

func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (Options, error) {
	o := Options{Stage: "all"}
	fs := flag.NewFlagSet("ci", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&o.Registry, "registry", env("ARCHWAY_REGISTRY", provision.RegistryAddr), "registry host:port to publish to (ARCHWAY_REGISTRY)")
	fs.StringVar(&o.ProxyImage, "proxy-image", env("ARCHWAY_PROXY_IMAGE", "archway/proxy"), "image name of archway-proxy (ARCHWAY_PROXY_IMAGE)")
	fs.StringVar(&o.AppImage, "app-image", env("ARCHWAY_APP_IMAGE", "archway/app"), "image name of archway-app (ARCHWAY_APP_IMAGE)")
	fs.StringVar(&o.Tag, "tag", getenv("ARCHWAY_TAG"), "image tag and version (ARCHWAY_TAG; default: git describe --tags --always --dirty); latest is tagged too")
	platforms := fs.String("platforms", env("ARCHWAY_PLATFORMS", strings.Join(DefaultPlatforms, ",")), "comma-separated platforms (ARCHWAY_PLATFORMS)")
	fs.StringVar(&o.GoImage, "go-image", getenv("ARCHWAY_GO_IMAGE"), "online Go build base image, e.g. golang:1.26.0-bookworm (ARCHWAY_GO_IMAGE; default: offline debootstrap base + host Go)")
	fs.StringVar(&o.GoBase, "go-base", getenv("ARCHWAY_GO_BASE"), "docker-save tarball of the offline build base (ARCHWAY_GO_BASE; default: from setup)")
	loadDefault, err := strconv.ParseBool(env("ARCHWAY_LOAD", "false"))
	if err != nil {
		return o, fmt.Errorf("ARCHWAY_LOAD=%q: want true or false", getenv("ARCHWAY_LOAD"))
	}
	fs.BoolVar(&o.Load, "load", loadDefault, "also docker load the host-arch images into the local engine (ARCHWAY_LOAD)")
	fs.StringVar(&o.Dist, "dist", env("ARCHWAY_DIST", "dist"), "directory for the OCI layout tarballs (ARCHWAY_DIST)")
	fs.StringVar(&o.Source, "source", ".", "module root to build")
	signDefault, err := strconv.ParseBool(env("ARCHWAY_SIGN", "true"))
	if err != nil {
		return o, fmt.Errorf("ARCHWAY_SIGN=%q: want true or false", getenv("ARCHWAY_SIGN"))
	}
	fs.BoolVar(&o.Sign, "sign", signDefault, "sign the indexes and platform images and attest SBOM + provenance (ARCHWAY_SIGN)")
	fs.StringVar(&o.SigningKey, "signing-key", getenv("ARCHWAY_SIGNING_KEY"), "cosign private key file, or its PEM (ARCHWAY_SIGNING_KEY; passphrase: COSIGN_PASSWORD; default: $ARCHWAY_HOME/signing/cosign.key, made by setup)")
	o.SigningPassword = []byte(getenv("COSIGN_PASSWORD"))
	fs.BoolVar(&o.Verbose, "v", false, "show the Dagger engine's progress output")

	// The stage may come first or after the flags.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.Stage, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		if o.Stage != "all" || len(args) == 0 || fs.NArg() > 1 {
			return o, fmt.Errorf("unexpected argument %q (one stage: %s)", fs.Arg(fs.NArg()-1), strings.Join(stages, ", "))
		}
		o.Stage = fs.Arg(0)
	}
	if !contains(stages, o.Stage) {
		return o, fmt.Errorf("stage %q: unknown (want one of %s)", o.Stage, strings.Join(stages, ", "))
	}
	if err := validateRegistry(o.Registry); err != nil {
		return o, err
	}
	for _, im := range []struct{ flag, v string }{{"proxy-image", o.ProxyImage}, {"app-image", o.AppImage}} {
		if !imageNameRE.MatchString(im.v) {
			return o, fmt.Errorf("-%s=%q: not a repository name (lower-case path like archway/app)", im.flag, im.v)
		}
	}
	if o.Tag != "" && !tagRE.MatchString(o.Tag) {
		return o, fmt.Errorf("-tag=%q: not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", o.Tag)
	}
	ps, err := parsePlatforms(*platforms)
	if err != nil {
		return o, err
	}
	o.Platforms = ps
	cfg, err := provision.ConfigFromEnv(getenv)
	if err != nil {
		return o, err
	}
	if err := cfg.SetGoImage(o.GoImage); err != nil {
		return o, fmt.Errorf("-go-image=%q: %w", o.GoImage, err)
	}
	o.Provision = cfg
	return o, nil
}

func validateRegistry(r string) error {
	host, port, err := net.SplitHostPort(r)
	if err != nil || host == "" {
		return fmt.Errorf("-registry=%q: want host:port (e.g. 127.0.0.1:5000)", r)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("-registry=%q: port %q is not 1-65535", r, port)
	}
	return nil
}

func parsePlatforms(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !contains(DefaultPlatforms, p) {
			return nil, fmt.Errorf("-platforms=%q: %q is not supported (supported: %s)", s, p, strings.Join(DefaultPlatforms, ","))
		}
		if contains(out, p) {
			return nil, fmt.Errorf("-platforms=%q: %q listed twice", s, p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-platforms=%q: no platform given", s)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
