package lab

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Builder builds node images on the host engine, caching them at three levels: the image
// in the engine, a `docker save | gzip` file in $ARCHWAY_HOME/lab/images (a wiped engine
// restores from it in seconds), and the debootstrapped rootfs in $ARCHWAY_HOME/lab/rootfs.
type Builder struct {
	Docker   *client.Client
	Home     string
	RepoDir  string // module root, for `go build` of the helpers
	Suite    string // Debian suite, e.g. bookworm
	Mirror   string // Debian mirror URL
	HostArch string // GOARCH of the host (amd64 for emulated nodes)
	Progress func(format string, args ...any)

	mu        sync.Mutex
	rootfsJob map[string]*rootfsFuture
	helperJob map[string]*helperFuture
	saves     sync.WaitGroup
	saveMu    sync.Mutex
	saveErrs  []error
}

// WaitSaves waits for the `docker save | gzip` cache writes that Ensure started in the
// background (nodes start meanwhile) and returns their errors.
func (b *Builder) WaitSaves() error {
	b.saves.Wait()
	b.saveMu.Lock()
	defer b.saveMu.Unlock()
	return errors.Join(b.saveErrs...)
}

type helperFuture struct {
	done chan struct{}
	bin  builtHelper
	err  error
}

// helper builds h for goarch/goarm once per Builder; concurrent callers share the build.
func (b *Builder) helper(ctx context.Context, h helper, goarch, goarm string) (builtHelper, error) {
	key := h.Pkg + " " + goarch + " " + goarm
	b.mu.Lock()
	if b.helperJob == nil {
		b.helperJob = map[string]*helperFuture{}
	}
	f, ok := b.helperJob[key]
	if !ok {
		f = &helperFuture{done: make(chan struct{})}
		b.helperJob[key] = f
		go func() {
			defer close(f.done)
			f.bin, f.err = buildHelper(ctx, b.RepoDir, b.labDir("helpers"), h, goarch, goarm)
		}()
	}
	b.mu.Unlock()
	select {
	case <-f.done:
		return f.bin, f.err
	case <-ctx.Done():
		return builtHelper{}, ctx.Err()
	}
}

type rootfsFuture struct {
	done chan struct{}
	dir  string
	err  error
}

// NodeImage is a resolved node image.
type NodeImage struct {
	Arch   Arch
	Recipe Recipe
	Tag    string
	// Source says where it came from this run: engine, cache (docker load) or build.
	Source string
}

func (b *Builder) labDir(parts ...string) string {
	return filepath.Join(append([]string{b.Home, "lab"}, parts...)...)
}

// Recipes computes the recipe of each arch's node image (building the helpers, which is a
// no-op on a warm Go build cache).
func (b *Builder) Recipes(ctx context.Context, arches []Arch) (map[string]Recipe, map[string]map[string]builtHelper, error) {
	native, _ := ParseArch(b.HostArch)
	// Start every helper build at once (they are independent `go build`s); the loop
	// below then waits on each.
	for _, a := range arches {
		if a.Emulated(b.HostArch) {
			go func() { _, _ = b.helper(ctx, helperRunc, native.GOARCH, native.GOARM) }()
			go func() { _, _ = b.helper(ctx, helperRegfwd, native.GOARCH, native.GOARM) }()
		} else {
			go func() { _, _ = b.helper(ctx, helperRegfwd, a.GOARCH, a.GOARM) }()
		}
	}
	recipes := map[string]Recipe{}
	bins := map[string]map[string]builtHelper{}
	base := func(a Arch) Recipe {
		return Recipe{Schema: recipeSchema, Arch: a.Name, Debian: a.Debian, Suite: b.Suite, Mirror: b.Mirror,
			Variant: "minbase", Packages: NodePackages, Entrypoint: digestString(entrypointScript), Helpers: map[string]string{}}
	}
	for _, a := range arches {
		r := base(a)
		hs := map[string]builtHelper{}
		// The forwarder is built for the node's own arch on native nodes and for the host on
		// emulated ones (registry traffic should not go through qemu).
		fwdArch := a
		if a.Emulated(b.HostArch) {
			fwdArch = native
			r.Foreign, r.Hybrid = true, true
			wrap, err := b.helper(ctx, helperRunc, native.GOARCH, native.GOARM)
			if err != nil {
				return nil, nil, err
			}
			hs[helperRunc.Name] = wrap
			nr, ok := recipes[native.Name]
			if !ok {
				nrs, _, err := b.Recipes(ctx, []Arch{native})
				if err != nil {
					return nil, nil, err
				}
				nr = nrs[native.Name]
			}
			r.NativeBase = nr.Hash()
		}
		fwd, err := b.helper(ctx, helperRegfwd, fwdArch.GOARCH, fwdArch.GOARM)
		if err != nil {
			return nil, nil, err
		}
		hs[helperRegfwd.Name] = fwd
		for n, h := range hs {
			r.Helpers[n] = h.Digest
		}
		recipes[a.Name] = r
		bins[a.Name] = hs
	}
	return recipes, bins, nil
}

// Ensure makes sure a node image for every arch exists on the host engine, building the
// missing ones in parallel. Per-arch failures are returned in errs; the others succeed.
func (b *Builder) Ensure(ctx context.Context, arches []Arch) (map[string]NodeImage, map[string]error, error) {
	recipes, bins, err := b.Recipes(ctx, arches)
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	images := map[string]NodeImage{}
	errs := map[string]error{}
	var wg sync.WaitGroup
	for _, a := range arches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := b.ensureOne(ctx, a, recipes[a.Name], bins[a.Name])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[a.Name] = err
				return
			}
			images[a.Name] = img
		}()
	}
	wg.Wait()
	return images, errs, nil
}

func (b *Builder) ensureOne(ctx context.Context, a Arch, r Recipe, bins map[string]builtHelper) (NodeImage, error) {
	h := r.Hash()
	img := NodeImage{Arch: a, Recipe: r, Tag: ImageTag(a, h)}
	gz := b.labDir("images", a.Suffix+"-"+h+".tar.gz")
	if _, err := b.Docker.ImageInspect(ctx, img.Tag); err == nil {
		img.Source = "engine"
		if _, err := os.Stat(gz); err != nil {
			// Heal a cache lost or never finished (an interrupted first run).
			b.saveLater(ctx, a, img.Tag, gz)
		}
		return img, nil
	} else if !cerrdefs.IsNotFound(err) {
		return img, fmt.Errorf("inspect %s: %w", img.Tag, err)
	}
	if _, err := os.Stat(gz); err == nil {
		b.Progress("%s: loading node image from %s", a.Name, gz)
		if err := b.load(ctx, gz, img.Tag); err == nil {
			img.Source = "cache"
			return img, nil
		} else {
			b.Progress("%s: cache unusable (%v); rebuilding", a.Name, err)
		}
	}
	dir, err := b.rootfs(ctx, a, r)
	if err != nil {
		return img, err
	}
	if err := b.finish(ctx, a, r, dir, bins); err != nil {
		return img, err
	}
	b.Progress("%s: docker import %s", a.Name, img.Tag)
	if err := b.importRootfs(ctx, dir, img.Tag, a); err != nil {
		return img, err
	}
	b.saveLater(ctx, a, img.Tag, gz)
	img.Source = "build"
	return img, nil
}

// rootfs returns the debootstrapped (not yet finished) rootfs of recipe r, building it
// once per run even when several images need it (the hybrids all copy from the native one).
func (b *Builder) rootfs(ctx context.Context, a Arch, r Recipe) (string, error) {
	key := a.Name + "-" + r.Hash()
	b.mu.Lock()
	if b.rootfsJob == nil {
		b.rootfsJob = map[string]*rootfsFuture{}
	}
	f, ok := b.rootfsJob[key]
	if !ok {
		f = &rootfsFuture{done: make(chan struct{})}
		b.rootfsJob[key] = f
		go func() {
			defer close(f.done)
			f.dir, f.err = b.buildRootfs(ctx, a, r)
		}()
	}
	b.mu.Unlock()
	select {
	case <-f.done:
		return f.dir, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

const doneStamp = ".archway-rootfs-ok"

func (b *Builder) buildRootfs(ctx context.Context, a Arch, r Recipe) (string, error) {
	dir := b.labDir("rootfs", a.Debian+"-"+r.Hash())
	if _, err := os.Stat(filepath.Join(dir, doneStamp)); err == nil {
		return dir, nil
	}
	// Rootfs of older recipes of this arch are dead weight (hundreds of MB each).
	old, _ := filepath.Glob(b.labDir("rootfs", a.Debian+"-*"))
	for _, o := range old {
		if o != dir {
			_ = os.RemoveAll(o)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("%s rootfs: %w", a.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("%s rootfs: %w", a.Name, err)
	}
	var err error
	if r.Foreign {
		err = b.debootstrapForeign(ctx, a, r, dir)
	} else {
		err = b.debootstrapNative(ctx, a, r, dir)
	}
	if err != nil {
		return "", err
	}
	if r.Hybrid {
		native, _ := ParseArch(b.HostArch)
		// The native rootfs is keyed by its own recipe hash, which Recipes put in NativeBase.
		ndir, err := b.nativeRootfs(ctx, native, r.NativeBase)
		if err != nil {
			return "", fmt.Errorf("%s hybrid needs the %s rootfs: %w", a.Name, native.Name, err)
		}
		b.Progress("%s: adding native %s iptables, shim and runc (hybrid)", a.Name, native.Name)
		if err := makeHybrid(dir, ndir); err != nil {
			return "", fmt.Errorf("%s hybrid: %w", a.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, doneStamp), []byte(r.Hash()+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("%s rootfs: %w", a.Name, err)
	}
	return dir, nil
}

// nativeRootfs finds or builds the native rootfs whose recipe hash is h.
func (b *Builder) nativeRootfs(ctx context.Context, native Arch, h string) (string, error) {
	b.mu.Lock()
	f, ok := b.rootfsJob[native.Name+"-"+h]
	b.mu.Unlock()
	if ok {
		select {
		case <-f.done:
			return f.dir, f.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	dir := b.labDir("rootfs", native.Debian+"-"+h)
	if _, err := os.Stat(filepath.Join(dir, doneStamp)); err == nil {
		return dir, nil
	}
	// Not part of this run (its image was cached): rebuild it from its recipe.
	nrs, _, err := b.Recipes(ctx, []Arch{native})
	if err != nil {
		return "", err
	}
	if got := nrs[native.Name].Hash(); got != h {
		return "", fmt.Errorf("native recipe hash %s, want %s", got, h)
	}
	return b.rootfs(ctx, native, nrs[native.Name])
}

// finish puts the entrypoint and helpers into the rootfs and trims caches and docs.
func (b *Builder) finish(ctx context.Context, a Arch, r Recipe, dir string, bins map[string]builtHelper) error {
	files := map[string][]byte{"usr/local/bin/archway-node-entrypoint": []byte(entrypointScript)}
	if h, ok := bins[helperRegfwd.Name]; ok {
		data, err := os.ReadFile(h.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		files["usr/local/bin/"+helperRegfwd.Name] = data
	}
	if h, ok := bins[helperRunc.Name]; ok {
		data, err := os.ReadFile(h.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		files[hybridLib+"/"+helperRunc.Name] = data
	}
	for rel, data := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		if err := os.WriteFile(p+".tmp", data, 0o755); err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
	}
	for _, g := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc", "usr/share/man", "usr/share/locale"} {
		m, _ := filepath.Glob(filepath.Join(dir, g))
		for _, p := range m {
			_ = os.RemoveAll(p)
		}
	}
	return nil
}

func (b *Builder) importRootfs(ctx context.Context, dir, tag string, a Arch) error {
	tarCmd := exec.CommandContext(ctx, "tar", "-C", dir, "--numeric-owner", "--exclude=./proc/*", "--exclude=./sys/*",
		"--exclude=./dev/*", "--exclude=./"+doneStamp, "-cf", "-", ".")
	out, err := tarCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	var stderr strings.Builder
	tarCmd.Stderr = &stderr
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("import %s: tar: %w", tag, err)
	}
	rc, err := b.Docker.ImageImport(ctx, image.ImportSource{Source: out, SourceName: "-"}, tag, image.ImportOptions{
		Platform: a.Platform(), // recorded by newer engines; 20.10 ignores it
		Changes: []string{
			`ENTRYPOINT ["/usr/local/bin/archway-node-entrypoint"]`,
			`VOLUME /var/lib/docker`,
			`ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
		},
	})
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	werr := tarCmd.Wait()
	if err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	if werr != nil {
		return fmt.Errorf("import %s: tar: %w: %s", tag, werr, stderr.String())
	}
	return nil
}

// saveLater writes the cache copy of tag in the background, while the nodes start; Up
// waits for it at the end (WaitSaves).
func (b *Builder) saveLater(ctx context.Context, a Arch, tag, gz string) {
	b.saves.Add(1)
	go func() {
		defer b.saves.Done()
		t0 := time.Now()
		if err := b.save(ctx, tag, gz, a.Suffix+"-"); err != nil {
			b.saveMu.Lock()
			b.saveErrs = append(b.saveErrs, err)
			b.saveMu.Unlock()
			return
		}
		b.Progress("%s: cached as %s (%.0fs)", a.Name, gz, time.Since(t0).Seconds())
	}()
}

// save writes `docker save tag | gzip` to path and removes older cache files with prefix.
func (b *Builder) save(ctx context.Context, tag, path, prefix string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save %s: %w", tag, err)
	}
	rc, err := b.Docker.ImageSave(ctx, []string{tag})
	if err != nil {
		return fmt.Errorf("save %s: %w", tag, err)
	}
	defer rc.Close()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("save %s: %w", tag, err)
	}
	defer os.Remove(tmp)
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	_, err = io.Copy(zw, rc)
	err = errors.Join(err, zw.Close(), f.Close())
	if err != nil {
		return fmt.Errorf("save %s: %w", tag, err)
	}
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(path), prefix+"*.tar.gz"))
	for _, o := range old {
		if o != path {
			_ = os.Remove(o)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save %s: %w", tag, err)
	}
	return nil
}

func (b *Builder) load(ctx context.Context, path, tag string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	resp, err := b.Docker.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("docker load: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := b.Docker.ImageInspect(ctx, tag); err != nil {
		return fmt.Errorf("after docker load: %w", err)
	}
	return nil
}
