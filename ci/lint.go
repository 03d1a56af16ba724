package main

import (
	"context"
)

// Lint runs gofmt, go vet and staticcheck (pinned as a go.mod tool) on the module.
func (a *Archway) Lint(ctx context.Context) error {
	steps := []struct {
		what string
		args []string
	}{
		{"gofmt", []string{"sh", "-c", `out=$(gofmt -l $(find . -name '*.go' -not -path './.git/*')); if [ -n "$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$out"; exit 1; fi`}},
		{"go vet", []string{"go", "vet", "./..."}},
		{"staticcheck", []string{"go", "tool", "staticcheck", "./..."}},
	}
	// One container per check, all from the same base: they run in parallel and each
	// failure names its check.
	errs := make(chan error, len(steps))
	for _, s := range steps {
		go func() {
			_, err := a.goBase.WithExec(s.args).Sync(ctx)
			if err != nil {
				err = execFailure("lint: "+s.what, err)
			}
			errs <- err
		}()
	}
	var first error
	for range steps {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
