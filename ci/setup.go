package main

import (
	"context"
	"os"

	"github.com/archwayhq/archway/internal/provision"
)

// runSetup provisions the host (internal/provision) and prints one line per step.
func runSetup(ctx context.Context, cfg provision.Config) error {
	p := &provision.Provisioner{Cfg: cfg, Run: provision.ExecRunner{}, Out: os.Stdout, Getenv: os.Getenv}
	_, err := p.Setup(ctx)
	return err
}
