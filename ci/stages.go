package main

import (
	"context"
)

func runStage(ctx context.Context, o Options) error {
	if o.Stage == "setup" {
		return runSetup(ctx, o)
	}
	return runPipeline(ctx, o)
}
