package main

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// check is one lint command and the name its failure carries.
type check struct {
	what string
	args []string
}

// Lint runs gofmt, go vet and staticcheck (pinned as a go.mod tool) on the module.
func (a *Archway) Lint(ctx context.Context) error {
	lanes := [][]check{
		{{"gofmt", []string{"sh", "-c", `out=$(gofmt -l $(find . -name '*.go' -not -path './.git/*')); if [ -n "$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$out"; exit 1; fi`}}},
		// vet, then staticcheck in the same container: both need every package
		// compiled (export data), and run at once each would compile it for itself.
		{{"go vet", []string{"go", "vet", "./..."}}, {"staticcheck", []string{"go", "tool", "staticcheck", "./..."}}},
	}
	// The lanes run side by side; each failure names its check.
	g := new(errgroup.Group)
	for _, lane := range lanes {
		g.Go(func() error {
			c := a.goBase
			for _, ch := range lane {
				c = c.WithExec(ch.args)
				if _, err := c.Sync(ctx); err != nil {
					return execFailure("lint: "+ch.what, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}
