// Command profproxy is archway-proxy (package proxy, static provider, same
// configuration parser) with a CPU profile written to $CPUPROFILE.<suffix> when it
// stops, so `go tool pprof` can show where each engine spends its time under wrk
// without adding a profiling endpoint to the shipped binary. loadbench runs one
// process per -engines entry with the same environment, hence the suffix: the entry
// loadbench puts in LOADBENCH_TARGET ("default", "nethttp", "epoll-2" for epoll:2),
// else the engine's name:
//
//	go build -o /tmp/profproxy ./proxy/loadbench/profproxy
//	go run ./proxy/loadbench -proxy /tmp/profproxy -proxy-env CPUPROFILE=/tmp/proxy.pprof -rounds 1
//	go tool pprof -top /tmp/profproxy /tmp/proxy.pprof.default   # or .nethttp
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/serve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "profproxy: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := proxy.ParseConfig(os.Args[1:], os.Environ())
	if err != nil {
		return err
	}
	if path := os.Getenv("CPUPROFILE"); path != "" {
		f, err := os.Create(profilePath(path, os.Getenv("LOADBENCH_TARGET"), cfg.Engine))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			return err
		}
	}
	p := proxy.New(proxy.OptionsFrom(cfg))
	prov := &proxy.StaticProvider{Load: func() ([]proxy.BackendSpec, error) { return cfg.Backends, nil }}
	return serve.Serve(ctx, p, serve.Config{Engine: cfg.Engine, Loops: cfg.Loops, Listener: ln, AdminListener: adminLn, Provider: prov,
		Drain: cfg.Drain, ShutdownTimeout: cfg.ShutdownTO})
}

// profilePath is where the profile goes: path suffixed with loadbench's name for the
// configuration when it set one, else with the engine.
func profilePath(path, target, engine string) string {
	if target != "" {
		return path + "." + target
	}
	return path + "." + engine
}
