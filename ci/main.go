// Command ci is archway's Dagger pipeline: `go run ./ci <stage>` with stages setup,
// lint, test, build, publish and all (lint → test → build → publish).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	opts, err := parseArgs(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ci:", err)
		return 2
	}
	if err := runStage(ctx, opts); err != nil {
		fmt.Fprintf(os.Stderr, "ci %s: FAILED: %v\n", opts.Stage, err)
		return 1
	}
	return 0
}
