// Command regfwd forwards TCP from -listen to -upstream (on lab nodes: 127.0.0.1:5000 to the
// host registry on the bridge gateway).
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/archwayhq/archway/swarm/lab/regfwd"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "regfwd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: regfwd LISTEN_ADDR UPSTREAM_ADDR (got %d arguments)", len(args))
	}
	if _, _, err := net.SplitHostPort(args[1]); err != nil {
		return fmt.Errorf("UPSTREAM_ADDR=%q: %w", args[1], err)
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR=%q: %w", args[0], err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return regfwd.Serve(ctx, ln, args[1])
}
