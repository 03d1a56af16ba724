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
	var key *imagesign.Key
	if o.Stage == "publish" || o.Stage == "all" {
		// The key first: a missing key or a wrong passphrase stops the run before
		// anything is built or pushed.
		if o.Sign {
			if key, err = loadSigningKey(o); err != nil {
				return err
			}
		}
		if err := newRegistryClient(o.Registry).Ping(ctx); err != nil {
			return fmt.Errorf("registry %s unreachable (%v): start it with `go run ./ci setup` or pass -registry / ARCHWAY_REGISTRY", o.Registry, err)
		}
	}
	goBase := o.GoBase
	if o.GoImage == "" && goBase == "" && st != nil {
		goBase = st.GoBaseTarball
	}
	if o.GoImage == "" {
		if goBase == "" {
			return fmt.Errorf("no Go build base: run `go run ./ci setup`, or pass -go-base FILE or -go-image golang:<version>")
		}
		if _, err := os.Stat(goBase); err != nil {
			return fmt.Errorf("go build base tarball %s: %w: run `go run ./ci setup`", goBase, err)
		}
	}
	info, err := buildInfo(ctx, o.Source, o.Tag)
	if err != nil {
		return err
	}
	var logw io.Writer = io.Discard
	if o.Verbose {
		logw = os.Stderr
	}
	os.Setenv("DO_NOT_TRACK", "1")
	runner := os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST")
	if os.Getenv("DAGGER_SESSION_PORT") == "" {
		if err := checkRunner(ctx, runner); err != nil {
			return err
		}
	}
	// No deadline on Connect: its context also bounds the CLI session it starts.
	client, err := dagger.Connect(ctx, dagger.WithLogOutput(logw))
	if err != nil {
		return fmt.Errorf("connect to the Dagger engine %s: %s; run `go run ./ci setup`, or -v for the engine log", runner, firstLineOf(err.Error()))
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
	run := func(name string, f func() error) error {
		t := time.Now()
		prog.start(name)
		err := f()
		prog.end(name)
		if err != nil {
			return err
		}
		s.say("%s ok (%.1fs)", name, time.Since(t).Seconds())
		return nil
	}
	lint := func() error { return run("lint", func() error { return a.Lint(ctx) }) }
	test := func() error { return run("test", func() error { return a.Test(ctx) }) }
	var outs map[string]*dagger.Directory
	build := func() error {
		return run(fmt.Sprintf("build (%d platforms × %d binaries)", len(o.Platforms), len(a.Binaries())), func() (err error) {
			outs, err = a.BuildAll(ctx, prog.platformDone)
			return err
		})
	}
	publish := func() error {
		return run("publish", func() error {
			res, err := a.Publish(ctx, outs)
			for _, p := range res {
				signed := "unsigned"
				if p.Signed {
					signed = "signed, SBOM + SLSA provenance per platform, all verified with " + filepath.Join(o.Dist, "cosign.pub")
				}
				fmt.Printf("published %s  index %s  (%d platforms verified, also :latest; %s; %s)\n", p.Ref, p.Index, len(p.Images), signed, p.Layout)
				for _, im := range p.Images {
					fmt.Printf("    %-15s %s  %6.2f MB compressed\n", im.Platform, im.Manifest[:19], float64(im.Compressed)/1e6)
				}
			}
			return err
		})
	}
	switch o.Stage {
	case "lint":
		err = lint()
	case "test":
		err = test()
	case "build":
		err = build()
	case "publish":
		if err = build(); err == nil {
			err = publish()
		}
	case "all":
		// lint runs beside build-then-test; publish waits for all three, so a failing
		// lint or test never publishes. The tests follow the build because they
		// cross-build the app for linux/386 and linux/arm/v7 (TestForeignBuilds): after
		// the build those packages are in the build cache, at once with it they would
		// be compiled twice on the same CPUs.
		g, _ := errgroup.WithContext(ctx)
		g.Go(lint)
		g.Go(func() error {
			if err := build(); err != nil {
				return err
			}
			return test()
		})
		if err = g.Wait(); err == nil {
			err = publish()
		}
	}
	if err != nil {
		return err
	}
	s.say("%s done", o.Stage)
	return nil
}
