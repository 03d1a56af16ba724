package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"dagger.io/dagger"
	"golang.org/x/sync/errgroup"

	"github.com/archwayhq/archway/internal/imagesign"
	"github.com/archwayhq/archway/internal/provision"
)

type stepper struct{ t0 time.Time }

func (s stepper) say(format string, a ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(s.t0).Seconds(), fmt.Sprintf(format, a...))
}

// engineEnv points the SDK at the provisioned engine and CLI unless the caller did
// (dagger run sets DAGGER_SESSION_PORT; a user may set the runner host).
func engineEnv(o Options) (*provision.State, error) {
	st, stErr := provision.LoadState(o.Provision.Home)
	if os.Getenv("DAGGER_SESSION_PORT") != "" {
		return st, nil
	}
	if stErr != nil {
		if os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST") != "" {
			return nil, nil
		}
		return nil, stErr
	}
	if os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST") == "" && st.RunnerHost != "" {
		os.Setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", st.RunnerHost)
	}
	if os.Getenv("_EXPERIMENTAL_DAGGER_CLI_BIN") == "" && st.DaggerPath == provision.PathBuilt {
		if _, err := os.Stat(st.CLI); err == nil {
			os.Setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", st.CLI)
		}
	}
	return st, nil
}

func runPipeline(ctx context.Context, o Options) error {
	s := stepper{time.Now()}
	st, err := engineEnv(o)
	if err != nil {
		return err
	}
	key, err := publishPreflight(ctx, o)
	if err != nil {
		return err
	}
	goBase, err := goBuildBase(o, st)
	if err != nil {
		return err
	}
	info, err := buildInfo(ctx, o.Source, o.Tag)
	if err != nil {
		return err
	}
	client, err := connectEngine(ctx, o)
	if err != nil {
		return err
	}
	defer client.Close()
	s.say("connected to Dagger engine; version %s, commit %.12s, created %s", info.Version, info.Commit, info.Created.Format(time.RFC3339))
	a, err := newArchway(ctx, client, o, info, goBase)
	if err != nil {
		return err
	}
	a.started, a.key = s.t0, key
	prog := newProgress(s)
	defer prog.stop()
	r := &stageRunner{a: a, o: o, s: s, prog: prog}
	if err := r.run(ctx, o.Stage); err != nil {
		return err
	}
	s.say("%s done", o.Stage)
	return nil
}

// publishPreflight checks, for a stage that publishes, what publishing needs before
// anything is built: the signing key (a missing key or a wrong passphrase stops the
// run first) and a registry that answers. It returns the key, nil when not signing.
func publishPreflight(ctx context.Context, o Options) (*imagesign.Key, error) {
	if o.Stage != "publish" && o.Stage != "all" {
		return nil, nil
	}
	var key *imagesign.Key
	if o.Sign {
		var err error
		if key, err = loadSigningKey(o); err != nil {
			return nil, err
		}
	}
	if err := newRegistryClient(o.Registry).Ping(ctx); err != nil {
		return nil, fmt.Errorf("registry %s unreachable (%v): start it with `go run ./ci setup` or pass -registry / ARCHWAY_REGISTRY", o.Registry, err)
	}
	return key, nil
}

// goBuildBase is the Go toolchain tarball the build containers start from: -go-base,
// else the one setup provisioned; "" when -go-image names an image instead.
func goBuildBase(o Options, st *provision.State) (string, error) {
	if o.GoImage != "" {
		return o.GoBase, nil
	}
	goBase := o.GoBase
	if goBase == "" && st != nil {
		goBase = st.GoBaseTarball
	}
	if goBase == "" {
		return "", fmt.Errorf("no Go build base: run `go run ./ci setup`, or pass -go-base FILE or -go-image golang:<version>")
	}
	if _, err := os.Stat(goBase); err != nil {
		return "", fmt.Errorf("go build base tarball %s: %w: run `go run ./ci setup`", goBase, err)
	}
	return goBase, nil
}

// connectEngine opens the Dagger session, after checking that the engine's runner
// answers (unless `dagger run` started the session); -v shows the engine's log.
func connectEngine(ctx context.Context, o Options) (*dagger.Client, error) {
	var logw io.Writer = io.Discard
	if o.Verbose {
		logw = os.Stderr
	}
	os.Setenv("DO_NOT_TRACK", "1")
	runner := os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST")
	if os.Getenv("DAGGER_SESSION_PORT") == "" {
		if err := checkRunner(ctx, runner); err != nil {
			return nil, err
		}
	}
	// No deadline on Connect: its context also bounds the CLI session it starts.
	client, err := dagger.Connect(ctx, dagger.WithLogOutput(logw))
	if err != nil {
		return nil, fmt.Errorf("connect to the Dagger engine %s: %s; run `go run ./ci setup`, or -v for the engine log", runner, firstLineOf(err.Error()))
	}
	return client, nil
}

// stageRunner runs the pipeline's stages on one session, each timed and shown in the
// progress line.
type stageRunner struct {
	a    *Archway
	o    Options
	s    stepper
	prog *progress
	outs map[string]*dagger.Directory // the build's output per platform, for publish
}

// run runs stage: lint, test, build, publish (build then publish) or all.
func (r *stageRunner) run(ctx context.Context, stage string) error {
	switch stage {
	case "lint":
		return r.lint(ctx)
	case "test":
		return r.test(ctx)
	case "build":
		return r.build(ctx)
	case "publish":
		if err := r.build(ctx); err != nil {
			return err
		}
		return r.publish(ctx)
	case "all":
		// lint runs beside build-then-test; publish waits for all three, so a failing
		// lint or test never publishes. The tests follow the build because they
		// cross-build the app for linux/386 and linux/arm/v7 (TestForeignBuilds): after
		// the build those packages are in the build cache, at once with it they would
		// be compiled twice on the same CPUs. The first failure cancels the other
		// branch: its result could no longer be published.
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return r.lint(gctx) })
		g.Go(func() error {
			if err := r.build(gctx); err != nil {
				return err
			}
			return r.test(gctx)
		})
		if err := g.Wait(); err != nil {
			return err
		}
		return r.publish(ctx)
	}
	return fmt.Errorf("stage %q: want lint, test, build, publish or all", stage)
}

// timed runs one stage under name and says how long it took.
func (r *stageRunner) timed(name string, f func() error) error {
	t := time.Now()
	r.prog.start(name)
	err := f()
	r.prog.end(name)
	if err != nil {
		return err
	}
	r.s.say("%s ok (%.1fs)", name, time.Since(t).Seconds())
	return nil
}

func (r *stageRunner) lint(ctx context.Context) error {
	return r.timed("lint", func() error { return r.a.Lint(ctx) })
}

func (r *stageRunner) test(ctx context.Context) error {
	return r.timed("test", func() error { return r.a.Test(ctx) })
}

func (r *stageRunner) build(ctx context.Context) error {
	name := fmt.Sprintf("build (%d platforms × %d binaries)", len(r.o.Platforms), len(r.a.Binaries()))
	return r.timed(name, func() (err error) {
		r.outs, err = r.a.BuildAll(ctx, r.prog.platformDone)
		return err
	})
}

func (r *stageRunner) publish(ctx context.Context) error {
	return r.timed("publish", func() error {
		res, err := r.a.Publish(ctx, r.outs)
		for _, p := range res {
			signed := "unsigned"
			if p.Signed {
				signed = "signed, SBOM + SLSA provenance per platform, all verified with " + filepath.Join(r.o.Dist, "cosign.pub")
			}
			fmt.Printf("published %s  index %s  (%d platforms verified, also :latest; %s; %s)\n", p.Ref, p.Index, len(p.Images), signed, p.Layout)
			for _, im := range p.Images {
				fmt.Printf("    %-15s %s  %6.2f MB compressed\n", im.Platform, im.Manifest[:19], float64(im.Compressed)/1e6)
			}
		}
		return err
	})
}
