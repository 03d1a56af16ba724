package main

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Lint runs gofmt, go vet and staticcheck (pinned as a go.mod tool) on the module.
func (a *Archway) Lint(ctx context.Context) error {
	steps := []struct {
		what string
		args [][]string
	}{
		{"gofmt", [][]string{{"sh", "-c", `out=$(gofmt -l $(find . -name '*.go' -not -path './.git/*')); if [ -n "$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$out"; exit 1; fi`}}},
		// vet, then staticcheck in the same container: both need every package
		// compiled (export data), and run at once each would compile it for itself.
		{"go vet, staticcheck", [][]string{{"go", "vet", "./..."}, {"go", "tool", "staticcheck", "./..."}}},
	}
	// gofmt beside the other two: each failure names its check.
	g := new(errgroup.Group)
	for _, s := range steps {
		g.Go(func() error {
			c := a.goBase
			for _, args := range s.args {
				c = c.WithExec(args)
			}
			if _, err := c.Sync(ctx); err != nil {
				return execFailure("lint: "+s.what, err)
			}
			return nil
		})
	}
	return g.Wait()
}
