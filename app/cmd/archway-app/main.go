// Command archway-app is the demo service: it answers with its colour, hostname and
// platform so a weighted rollout through archway-proxy can be watched from curl or a
// browser. Configuration: PORT/-port, V2, DRAIN/-drain, and for demonstrations and
// tests of canary analysis the injected faults FAIL_RATE, FAIL_STATUS, FAIL_PLATFORM,
// DELAY, DELAY_PLATFORM and the release id ARCHWAY_RELEASE; see the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/archwayhq/archway/app"
	"github.com/archwayhq/archway/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run returns the exit code: 0 clean stop, 1 runtime failure, 2 bad configuration.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := app.ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "archway-app: %v\n", err)
		return 2
	}
	if cfg.ShowVersion {
		fmt.Fprintf(stdout, "archway-app %s (%s)\n", version.Version, version.Commit)
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg, log); err != nil {
		log.Error("archway-app stopped", "err", err)
		return 1
	}
	return 0
}
