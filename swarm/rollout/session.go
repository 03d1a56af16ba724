package rollout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Session is one operator's view of a deployed stack: the cluster API, the stack's
// group, and where its proxy answers.
type Session struct {
	API   ClusterAPI
	HTTP  *http.Client
	Group string
	// Stack is the `docker stack deploy` name; services are <Stack>_blue, _green, _proxy.
	Stack string
	// ProxyURL and AdminURL are found from the proxy task when empty (Locate).
	ProxyURL, AdminURL string
	// TLS: the proxy's data port serves HTTPS (swarm/stack.tls.yml); ProxyURL is
	// https://, and HTTP must trust its certificate.
	TLS bool
	// AdminToken is sent to the admin API (ReadAdminToken reads the file the stack's
	// secret was created from).
	AdminToken string
	Out        io.Writer
	// Timeout bounds each wait; emulated nodes start slowly, so be generous.
	Timeout time.Duration
}

func (s *Session) logf(format string, a ...any) {
	fmt.Fprintf(s.Out, format+"\n", a...)
}

// Locate fills ProxyURL and AdminURL from the proxy service's running task.
func (s *Session) Locate(ctx context.Context) error {
	if s.ProxyURL != "" && s.AdminURL != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	svc := s.Stack + "_proxy"
	for {
		p, err1 := PublishedURL(ctx, s.API, svc, 8989)
		a, err2 := PublishedURL(ctx, s.API, svc, 8990)
		if err1 == nil && err2 == nil {
			if s.TLS {
				p = "https" + strings.TrimPrefix(p, "http")
			}
			if s.ProxyURL == "" {
				s.ProxyURL = p
			}
			if s.AdminURL == "" {
				s.AdminURL = a
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("locate the proxy: %w", firstErr(err1, err2))
		case <-time.After(time.Second):
		}
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Converge waits until every colour runs on every node and the proxy serves want with
// one healthy member per node. It returns the node count.
func (s *Session) Converge(ctx context.Context, want Weights) (int, error) {
	if err := WaitGlobal(ctx, s.API, s.Group, s.Timeout, func(c Convergence) { s.logf("  waiting: %s", c) }); err != nil {
		return 0, err
	}
	conv, err := CheckGlobal(ctx, s.API, s.Group)
	if err != nil {
		return 0, err
	}
	if err := s.Locate(ctx); err != nil {
		return 0, err
	}
	if err := WaitProxy(ctx, s.HTTP, s.AdminURL, s.AdminToken, want, conv.Nodes, s.Timeout); err != nil {
		return 0, err
	}
	return conv.Nodes, nil
}

// Shift sets the weights with labels and waits until the proxy serves them on every node.
func (s *Session) Shift(ctx context.Context, w Weights) error {
	t0 := time.Now()
	if err := SetWeights(ctx, s.API, s.Group, w); err != nil {
		return err
	}
	if _, err := s.Converge(ctx, w); err != nil {
		return err
	}
	s.logf("  proxy serves %s (%.1fs after the label update)", w, time.Since(t0).Seconds())
	return nil
}

// Measure samples n requests through the proxy, prints the table and checks the colour
// split against w: with one proxy replica SWRR is exact over whole cycles, so n should
// be a multiple of the weight sum; anything else is reported as a mismatch.
func (s *Session) Measure(ctx context.Context, n int, w Weights) (Tally, error) {
	t := Sample(ctx, s.HTTP, s.ProxyURL, n)
	if err := t.WriteTable(s.Out); err != nil {
		return t, err
	}
	if t.Failed > 0 {
		return t, fmt.Errorf("%d of %d requests failed (first: %s)", t.Failed, t.Total, t.FirstErr)
	}
	return t, checkSplit(t.ByColor(), w, n)
}

// checkSplit is CheckSplit with no tolerance, after refusing a sample that is not whole
// SWRR cycles of the weight sum (the split then cannot be exact).
func checkSplit(got map[string]int, w Weights, n int) error {
	sum := 0
	for _, x := range w {
		sum += x
	}
	if sum > 0 && n%sum != 0 {
		return fmt.Errorf("sample of %d is not whole SWRR cycles of %d: split cannot be exact", n, sum)
	}
	return CheckSplit(got, w, 0)
}
