package provision

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Provisioner runs the setup steps against a host through Runner.
type Provisioner struct {
	Cfg Config
	Run Runner
	// Out receives one progress line per step ("docker engine: reusing daemon …").
	Out io.Writer
	// Getenv is os.Getenv in production; tests pass a map.
	Getenv func(string) string

	mu         sync.Mutex
	rootfsMu   sync.Mutex // debootstraps share the .deb cache: one at a time
	aptUpdated bool
	dockerHost string
	privileged *bool
}

func (p *Provisioner) say(step, format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.Out, "%-14s %s\n", step+":", fmt.Sprintf(format, a...))
}

// Setup runs every step in order and writes the env and state files. The Dagger
// binaries (the slow, CPU-bound part of a cold run) compile while the Docker-side
// steps (mostly downloads) run.
func (p *Provisioner) Setup(ctx context.Context) (*State, error) {
	t0 := time.Now()
	if err := p.Cfg.mkdirs(); err != nil {
		return nil, err
	}
	if err := p.EnsureDocker(ctx); err != nil {
		return nil, fmt.Errorf("docker engine: %w", err)
	}
	if err := p.EnsureBinfmt(ctx); err != nil {
		return nil, fmt.Errorf("binfmt: %w", err)
	}
	plan, err := p.PlanDagger(ctx)
	if err != nil {
		return nil, fmt.Errorf("dagger: %w", err)
	}
	var (
		wg        sync.WaitGroup
		buildErr  error
		rootfsErr error
		binDir    string
	)
	if plan.Build {
		wg.Add(2)
		go func() {
			defer wg.Done()
			binDir, buildErr = p.BuildDaggerBinaries(ctx, plan)
		}()
		// The engine rootfs is a download-bound debootstrap: overlap it with the build.
		go func() {
			defer wg.Done()
			if _, err := p.EnsureRootfs(ctx, "dagger engine", EngineRootfs); err != nil {
				p.mu.Lock()
				rootfsErr = err
				p.mu.Unlock()
			}
		}()
	}
	if err := p.EnsureBaseImage(ctx); err != nil {
		wg.Wait()
		return nil, fmt.Errorf("base image: %w", err)
	}
	if err := p.EnsureRegistry(ctx); err != nil {
		wg.Wait()
		return nil, fmt.Errorf("registry: %w", err)
	}
	if err := p.EnsureGoBase(ctx); err != nil {
		wg.Wait()
		return nil, fmt.Errorf("go build base: %w", err)
	}
	wg.Wait()
	if buildErr != nil {
		return nil, fmt.Errorf("dagger: %w", buildErr)
	}
	if rootfsErr != nil {
		return nil, fmt.Errorf("dagger engine: %w", rootfsErr)
	}
	if plan.Build {
		if err := p.EnsureEngine(ctx, plan, binDir); err != nil {
			return nil, fmt.Errorf("dagger engine: %w", err)
		}
	}
	st := p.state(plan)
	if err := p.WriteEnv(st); err != nil {
		return nil, err
	}
	p.say("done", "in %.1fs; `. %s` or just `go run ./ci all`", time.Since(t0).Seconds(), p.Cfg.EnvFile())
	return st, nil
}

func (p *Provisioner) state(plan DaggerPlan) *State {
	st := &State{
		DaggerPath: plan.Path,
		RunnerHost: plan.RunnerHost,
		Registry:   RegistryAddr,
		CLI:        plan.CLI,
		GoImage:    p.Cfg.GoImage,
		Home:       p.Cfg.Home,
	}
	if p.Cfg.GoImage == "" {
		st.GoBaseTarball = p.Cfg.BaseTarball()
	}
	return st
}

func shortErr(err error) string { return strings.SplitN(err.Error(), "\n", 2)[0] }

// heartbeat says every interval what a long step is doing (status()), so that a cold
// build is never silent for minutes; the returned stop ends it.
func (p *Provisioner) heartbeat(step string, interval time.Duration, status func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				p.say(step, "%s (%.0fs so far)", status(), time.Since(t0).Seconds())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
