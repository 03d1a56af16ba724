package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Split counts which colour answered n sequential requests through a front end, sent
// through rt (nil: http.DefaultTransport; under -tls one that trusts the run's CA).
// colourOf maps a response to its colour.
func Split(ctx context.Context, rt http.RoundTripper, url string, n int, colourOf func(resp *http.Response, body string) string) (map[string]int, error) {
	client := &http.Client{Transport: rt, Timeout: 5 * time.Second}
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("split request %d to %s: %w", i, url, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("split request %d to %s: read: %w", i, url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("split request %d to %s: status %d", i, url, resp.StatusCode)
		}
		counts[colourOf(resp, string(b))]++
	}
	return counts, nil
}

// colourFromBody reads the first word of archway-app's text line, which is the Color
// header the proxy set ("blue 7f5d3eacb82d linux/amd64").
func colourFromBody(_ *http.Response, body string) string {
	first, _, _ := strings.Cut(body, " ")
	return strings.ToLower(first)
}

// colourFromUpstream maps nginx's X-Upstream (the upstream address) to a colour.
func colourFromUpstream(byAddr map[string]string) func(*http.Response, string) string {
	return func(resp *http.Response, _ string) string {
		if c, ok := byAddr[resp.Header.Get("X-Upstream")]; ok {
			return c
		}
		return "?" + resp.Header.Get("X-Upstream")
	}
}

// checkSplit compares counts with the weights within tolerance (a fraction of n).
func checkSplit(counts map[string]int, weights map[string]int, n int, tolerance float64) error {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	for c, got := range counts {
		if _, ok := weights[c]; !ok {
			return fmt.Errorf("unexpected colour %q answered %d requests", c, got)
		}
	}
	// Sorted, so that the error names the same colour every run.
	for _, c := range slices.Sorted(maps.Keys(weights)) {
		want := float64(n) * float64(weights[c]) / float64(sum)
		if d := float64(counts[c]) - want; d > tolerance*float64(n) || -d > tolerance*float64(n) {
			return fmt.Errorf("%s answered %d of %d, want %.0f ± %.0f", c, counts[c], n, want, tolerance*float64(n))
		}
	}
	return nil
}
