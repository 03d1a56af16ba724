package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"dagger.io/dagger"
)

// Binary is one program the pipeline ships as an image.
type Binary struct {
	Name  string // archway-proxy
	Pkg   string // ./proxy/cmd/archway-proxy
	Ports []int  // exposed ports
	Title string // org.opencontainers.image.title
}

// Binaries are the archway programs, each published as its own image.
func (a *Archway) Binaries() []Binary {
	return []Binary{
		{Name: "archway-proxy", Pkg: "./proxy/cmd/archway-proxy", Ports: []int{8989, 8990}, Title: "archway-proxy"},
		{Name: "archway-app", Pkg: "./app/cmd/archway-app", Ports: []int{8080}, Title: "archway-app"},
	}
}

// goEnvFor maps an OCI platform to the Go cross-compilation environment.
func goEnvFor(platform string) (map[string]string, error) {
	parts := strings.Split(platform, "/")
	if len(parts) < 2 || parts[0] != "linux" {
		return nil, fmt.Errorf("platform %q: want linux/<arch>[/<variant>]", platform)
	}
	env := map[string]string{"GOOS": "linux", "GOARCH": parts[1]}
	variant := ""
	if len(parts) == 3 {
		variant = parts[2]
	}
	switch {
	case parts[1] == "arm":
		switch variant {
		case "v6", "v7":
			env["GOARM"] = strings.TrimPrefix(variant, "v")
		default:
			return nil, fmt.Errorf("platform %q: arm needs variant v6 or v7", platform)
		}
	case parts[1] == "386":
		env["GO386"] = "sse2" // explicit: the default, pinned so a toolchain change cannot alter it
	case variant != "":
		return nil, fmt.Errorf("platform %q: unexpected variant", platform)
	}
	return env, nil
}

// passwd and group of the images: root for completeness, nonroot (65532) runs them.
const (
	passwdFile = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	groupFile  = "root:x:0:\nnonroot:x:65532:\n"
)

// Build cross-compiles every binary for one platform natively on the build host (no
// emulation) and lays out each image's root filesystem, all files stamped with the
// commit time so the layers are byte-identical across rebuilds. It returns
// /out/<binary> directories, one per binary.
func (a *Archway) Build(platform string) (*dagger.Directory, error) {
	env, err := goEnvFor(platform)
	if err != nil {
		return nil, err
	}
	ldflags := fmt.Sprintf("-s -w -X github.com/archwayhq/archway/internal/version.Version=%s -X github.com/archwayhq/archway/internal/version.Commit=%s", a.info.Version, a.info.Commit)
	pkgs := make([]string, 0, 2)
	script := []string{"set -e", "rm -rf /out", "mkdir -p /out/bin"}
	for _, b := range a.Binaries() {
		pkgs = append(pkgs, b.Pkg)
	}
	script = append(script, "go build -trimpath -ldflags \"$LDFLAGS\" -o /out/bin/ "+strings.Join(pkgs, " "))
	for _, b := range a.Binaries() {
		r := "/out/" + b.Name
		script = append(script,
			"mkdir -p "+r+"/usr/local/bin "+r+"/etc/ssl/certs "+r+"/tmp "+r+"/home/nonroot",
			"install -m 0755 /out/bin/"+b.Name+" "+r+"/usr/local/bin/"+b.Name,
			"install -m 0644 /in/ca-certificates.crt "+r+"/etc/ssl/certs/ca-certificates.crt",
			"printf '%s' \"$PASSWD\" > "+r+"/etc/passwd && printf '%s' \"$GROUP\" > "+r+"/etc/group",
			"chmod 0644 "+r+"/etc/passwd "+r+"/etc/group && chmod 1777 "+r+"/tmp",
			"chown 65532:65532 "+r+"/home/nonroot && chmod 0755 "+r+"/home/nonroot",
			"find "+r+" -exec touch -h -d @$SOURCE_DATE_EPOCH {} +",
		)
	}
	c := a.goBase.
		WithMountedFile("/in/ca-certificates.crt", a.caBundle).
		WithEnvVariable("LDFLAGS", ldflags).
		WithEnvVariable("PASSWD", passwdFile).
		WithEnvVariable("GROUP", groupFile).
		WithEnvVariable("SOURCE_DATE_EPOCH", strconv.FormatInt(a.info.Created.Unix(), 10))
	for _, k := range []string{"GOOS", "GOARCH", "GOARM", "GO386"} {
		if v, ok := env[k]; ok {
			c = c.WithEnvVariable(k, v)
		}
	}
	c = c.WithExec([]string{"sh", "-c", strings.Join(script, "\n")})
	return c.Directory("/out"), nil
}

// BuildAll builds every platform concurrently and waits for all of them; done, if
// not nil, hears of each platform as it finishes.
func (a *Archway) BuildAll(ctx context.Context, done func(platform string)) (map[string]*dagger.Directory, error) {
	outs := map[string]*dagger.Directory{}
	type res struct {
		p   string
		err error
	}
	ch := make(chan res, len(a.opts.Platforms))
	for _, p := range a.opts.Platforms {
		d, err := a.Build(p)
		if err != nil {
			return nil, err
		}
		outs[p] = d
		go func() {
			_, err := d.Sync(ctx)
			if err == nil && done != nil {
				done(p)
			}
			ch <- res{p, err}
		}()
	}
	var first error
	for range a.opts.Platforms {
		if r := <-ch; r.err != nil && first == nil {
			first = execFailure("build "+r.p, r.err)
		}
	}
	return outs, first
}
