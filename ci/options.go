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

// parseArgs reads the stage and the flags (each defaulting to its environment
// variable), checks every value and reads the provisioning settings.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (Options, error) {
	o := Options{Stage: "all"}
	fs := flag.NewFlagSet("ci", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	platforms, err := o.bindFlags(fs, getenv)
	if err != nil {
		return o, err
	}
	if err := o.parseStage(fs, args); err != nil {
		return o, err
	}
	name := settingNamer(fs, getenv)
	if err := o.check(name); err != nil {
		return o, err
	}
	if o.Platforms, err = parsePlatforms(name("platforms"), *platforms); err != nil {
		return o, err
	}
	// o.GoImage already holds -go-image or, without the flag, ARCHWAY_GO_IMAGE, and is
	// checked once below under the name of whichever gave it: ConfigFromEnv must not
	// read the variable again (a bad one the flag overrides is not this run's error).
	withoutGoImage := func(k string) string {
		if k == flagEnv["go-image"] {
			return ""
		}
		return getenv(k)
	}
	if o.Provision, err = provision.ConfigFromEnv(withoutGoImage); err != nil {
		return o, err
	}
	if err := o.Provision.SetGoImage(o.GoImage); err != nil {
		return o, fmt.Errorf("%s=%q: %w", name("go-image"), o.GoImage, err)
	}
	return o, nil
}

// flagEnv names the environment variable each flag defaults to.
var flagEnv = map[string]string{
	"registry": "ARCHWAY_REGISTRY", "proxy-image": "ARCHWAY_PROXY_IMAGE", "app-image": "ARCHWAY_APP_IMAGE",
	"tag": "ARCHWAY_TAG", "platforms": "ARCHWAY_PLATFORMS", "go-image": "ARCHWAY_GO_IMAGE",
	"go-base": "ARCHWAY_GO_BASE", "load": "ARCHWAY_LOAD", "dist": "ARCHWAY_DIST",
	"sign": "ARCHWAY_SIGN", "signing-key": "ARCHWAY_SIGNING_KEY",
}

// bindFlags defines the flags on fs, each defaulting to its variable in flagEnv (an
// empty variable is unset); it returns the raw -platforms, checked after parsing.
func (o *Options) bindFlags(fs *flag.FlagSet, getenv func(string) string) (*string, error) {
	env := func(flagName, def string) string {
		if v := getenv(flagEnv[flagName]); v != "" {
			return v
		}
		return def
	}
	boolEnv := func(flagName string, def bool) (bool, error) {
		raw := env(flagName, strconv.FormatBool(def))
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return false, fmt.Errorf("%s=%q: want true or false", flagEnv[flagName], raw)
		}
		return v, nil
	}
	load, err := boolEnv("load", false)
	if err != nil {
		return nil, err
	}
	sign, err := boolEnv("sign", true)
	if err != nil {
		return nil, err
	}
	fs.StringVar(&o.Registry, "registry", env("registry", provision.RegistryAddr), "registry host:port to publish to (ARCHWAY_REGISTRY)")
	fs.StringVar(&o.ProxyImage, "proxy-image", env("proxy-image", "archway/proxy"), "image name of archway-proxy (ARCHWAY_PROXY_IMAGE)")
	fs.StringVar(&o.AppImage, "app-image", env("app-image", "archway/app"), "image name of archway-app (ARCHWAY_APP_IMAGE)")
	fs.StringVar(&o.Tag, "tag", env("tag", ""), "image tag and version (ARCHWAY_TAG; default: git describe --tags --always --dirty); latest is tagged too")
	platforms := fs.String("platforms", env("platforms", strings.Join(DefaultPlatforms, ",")), "comma-separated platforms (ARCHWAY_PLATFORMS)")
	fs.StringVar(&o.GoImage, "go-image", env("go-image", ""), "online Go build base image, e.g. golang:1.26.0-bookworm (ARCHWAY_GO_IMAGE; default: offline debootstrap base + host Go)")
	fs.StringVar(&o.GoBase, "go-base", env("go-base", ""), "docker-save tarball of the offline build base (ARCHWAY_GO_BASE; default: from setup)")
	fs.BoolVar(&o.Load, "load", load, "also docker load the host-arch images into the local engine (ARCHWAY_LOAD)")
	fs.StringVar(&o.Dist, "dist", env("dist", "dist"), "directory for the OCI layout tarballs (ARCHWAY_DIST)")
	fs.StringVar(&o.Source, "source", ".", "module root to build")
	fs.BoolVar(&o.Sign, "sign", sign, "sign the indexes and platform images and attest SBOM + provenance (ARCHWAY_SIGN)")
	fs.StringVar(&o.SigningKey, "signing-key", env("signing-key", ""), "cosign private key file, or its PEM (ARCHWAY_SIGNING_KEY; passphrase: COSIGN_PASSWORD; default: $ARCHWAY_HOME/signing/cosign.key, made by setup)")
	o.SigningPassword = []byte(getenv("COSIGN_PASSWORD"))
	fs.BoolVar(&o.Verbose, "v", false, "show the Dagger engine's progress output")
	return platforms, nil
}

// parseStage parses args, where the one stage may come before or after the flags.
func (o *Options) parseStage(fs *flag.FlagSet, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.Stage, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		if o.Stage != "all" || len(args) == 0 || fs.NArg() > 1 {
			return fmt.Errorf("unexpected argument %q (one stage: %s)", fs.Arg(fs.NArg()-1), strings.Join(stages, ", "))
		}
		o.Stage = fs.Arg(0)
	}
	if !contains(stages, o.Stage) {
		return fmt.Errorf("stage %q: unknown (want one of %s)", o.Stage, strings.Join(stages, ", "))
	}
	return nil
}

// settingNamer returns how errors name a setting: its flag when given on the command
// line, else its variable when that is set, else the flag (the default was bad).
func settingNamer(fs *flag.FlagSet, getenv func(string) string) func(flagName string) string {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return func(flagName string) string {
		if env := flagEnv[flagName]; !given[flagName] && env != "" && getenv(env) != "" {
			return env
		}
		return "-" + flagName
	}
}

// check validates the registry, image names and tag, naming the setting that gave
// each bad value.
func (o *Options) check(name func(string) string) error {
	if err := validateRegistry(name("registry"), o.Registry); err != nil {
		return err
	}
	for _, im := range []struct{ flag, v string }{{"proxy-image", o.ProxyImage}, {"app-image", o.AppImage}} {
		if !imageNameRE.MatchString(im.v) {
			return fmt.Errorf("%s=%q: not a repository name (lower-case path like archway/app)", name(im.flag), im.v)
		}
	}
	if o.Tag != "" && !tagRE.MatchString(o.Tag) {
		return fmt.Errorf("%s=%q: not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", name("tag"), o.Tag)
	}
	return nil
}

func validateRegistry(setting, r string) error {
	host, port, err := net.SplitHostPort(r)
	if err != nil || host == "" {
		return fmt.Errorf("%s=%q: want host:port (e.g. 127.0.0.1:5000)", setting, r)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%s=%q: port %q is not 1-65535", setting, r, port)
	}
	return nil
}

func parsePlatforms(setting, s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !contains(DefaultPlatforms, p) {
			return nil, fmt.Errorf("%s=%q: %q is not supported (supported: %s)", setting, s, p, strings.Join(DefaultPlatforms, ","))
		}
		if contains(out, p) {
			return nil, fmt.Errorf("%s=%q: %q listed twice", setting, s, p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s=%q: no platform given", setting, s)
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
