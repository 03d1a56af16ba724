package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"dagger.io/dagger"

	"github.com/archwayhq/archway/internal/imagesign"
)

// Archway is the pipeline: the Dagger client, the source tree and the options.
// Each stage is a method in its own file (lint.go, test.go, build.go, …).
type Archway struct {
	client   *dagger.Client
	source   *dagger.Directory
	opts     Options
	info     BuildInfo
	goBase   *dagger.Container
	caBundle *dagger.File
	// goBaseTar is the offline build base tarball ("" with -go-image).
	goBaseTar string
	// started is when this run began (the provenance's startedOn).
	started time.Time
	// key signs what publish pushes; nil with -sign=false.
	key *imagesign.Key
}

// sourceExcludes keep uploads small and the source digest independent of outputs.
var sourceExcludes = []string{".git", "dist", "bin", ".archway", "**/*.test", "**/*.out", "tests/testdata/fuzz-cache"}

func newArchway(ctx context.Context, client *dagger.Client, o Options, info BuildInfo, goBaseTar string) (*Archway, error) {
	a := &Archway{client: client, opts: o, info: info, goBaseTar: goBaseTar, started: time.Now()}
	a.source = client.Host().Directory(o.Source, dagger.HostDirectoryOpts{Exclude: sourceExcludes})
	var base *dagger.Container
	if o.GoImage != "" {
		base = client.Container().From(o.GoImage)
	} else {
		goroot, err := hostGOROOT(ctx)
		if err != nil {
			return nil, err
		}
		// The host toolchain is mounted, not copied into a layer: the image stays the
		// Debian base, and the Go version is exactly the one that built this program.
		base = client.Container().Import(client.Host().File(goBaseTar)).
			WithMountedDirectory("/usr/local/go", client.Host().Directory(goroot, dagger.HostDirectoryOpts{
				Exclude: []string{"test", "doc", "api", "misc", "**/testdata", "pkg/obj"},
			})).
			WithEnvVariable("PATH", "/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	// Read before any exec runs: Dagger's custom-CA support may add the host's
	// intercepting CA to the bundle during execs, which must not end up in images.
	a.caBundle = base.File("/etc/ssl/certs/ca-certificates.crt")
	goproxy := goEnv(ctx, "GOPROXY", "https://proxy.golang.org,direct")
	a.goBase = base.
		WithMountedCache("/cache/go-mod", client.CacheVolume("archway-go-mod")).
		WithMountedCache("/cache/go-build", client.CacheVolume("archway-go-build")).
		// staticcheck keeps its analysis facts outside GOCACHE: cache them too.
		WithMountedCache("/cache/staticcheck", client.CacheVolume("archway-staticcheck")).
		WithEnvVariable("STATICCHECK_CACHE", "/cache/staticcheck").
		WithEnvVariable("GOMODCACHE", "/cache/go-mod").
		WithEnvVariable("GOCACHE", "/cache/go-build").
		WithEnvVariable("GOPROXY", goproxy).
		WithEnvVariable("GOSUMDB", goEnv(ctx, "GOSUMDB", "sum.golang.org")).
		WithEnvVariable("GOTOOLCHAIN", "local").
		// -trimpath everywhere, not only in build: the build cache keys on it, so vet,
		// staticcheck, the tests' cross-builds and the linux/amd64 image build then
		// compile each package once between them.
		WithEnvVariable("GOFLAGS", "-buildvcs=false -trimpath").
		WithEnvVariable("CGO_ENABLED", "0").
		WithDirectory("/src", a.source).
		WithWorkdir("/src")
	return a, nil
}

// hostGOROOT is the toolchain that runs this program, as `go env GOROOT` sees it.
func hostGOROOT(ctx context.Context) (string, error) {
	if out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output(); err == nil {
		if p := strings.TrimSpace(string(out)); p != "" {
			return p, nil
		}
	}
	// Fallback: the go binary next to this program's toolchain layout on PATH.
	if gobin, err := exec.LookPath("go"); err == nil {
		if r, err := filepath.EvalSymlinks(gobin); err == nil {
			return filepath.Dir(filepath.Dir(r)), nil
		}
	}
	return "", fmt.Errorf("host Go toolchain not found (go env GOROOT): put go on PATH or use -go-image")
}

func goEnv(ctx context.Context, name, def string) string {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return def
}

// execNoise matches lines of Dagger's CA-certificate installer and module downloads,
// which would bury the actual failure.
var execNoise = regexp.MustCompile(`^(Updating certificates in|\d+ added, \d+ removed; done\.|Running hooks in /etc/ca-certificates|done\.$|rehash: warning:|go: downloading |\s*$)`)

// execFailure turns a Dagger exec error into one readable message: the command's
// exit code and the end of its output.
func execFailure(what string, err error) error {
	var ee *dagger.ExecError
	if errors.As(err, &ee) {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(ee.Stdout+"\n"+ee.Stderr), "\n") {
			if !execNoise.MatchString(l) {
				lines = append(lines, l)
			}
		}
		if len(lines) > 40 {
			lines = append([]string{"…"}, lines[len(lines)-40:]...)
		}
		code := ""
		if ee.ExitCode > 0 {
			code = fmt.Sprintf(" (exit code %d)", ee.ExitCode)
		}
		return fmt.Errorf("%s failed%s:\n%s", what, code, strings.Join(lines, "\n"))
	}
	return fmt.Errorf("%s: %w", what, err)
}
