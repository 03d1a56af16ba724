package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/archwayhq/archway/proxy"
)

// ErrAdminRefused marks an admin API answer of 401 or 403: a missing or wrong token,
// which waiting will not mend.
var ErrAdminRefused = errors.New("the admin API refused the token; is it the one the stack's archway_admin_token secret was created from?")

// ProxyStatus reads GET /status from the proxy's admin API with the admin (or
// read-only) token; "" sends none (a loopback admin listener without tokens).
func ProxyStatus(ctx context.Context, c *http.Client, adminURL, token string) (proxy.Status, error) {
	var st proxy.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(adminURL, "/")+"/status", nil)
	if err != nil {
		return st, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return st, fmt.Errorf("proxy admin: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&e)
		err := fmt.Errorf("proxy admin GET /status: %s: %s", resp.Status, e.Error)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("%w (%w)", err, ErrAdminRefused)
		}
		return st, err
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("proxy admin GET /status: decode: %w", err)
	}
	return st, nil
}

// proxyMismatch says how st differs from the wanted weights with `members` healthy
// members per colour, or "" when it matches.
func proxyMismatch(st proxy.Status, want Weights, members int) string {
	var diffs []string
	seen := map[string]bool{}
	for _, b := range st.Backends {
		c := strings.ToLower(b.Name)
		seen[c] = true
		w, ok := want[c]
		if !ok {
			continue
		}
		up := 0
		for _, m := range b.Members {
			if m.Up {
				up++
			}
		}
		if b.Weight != w || up != members {
			diffs = append(diffs, fmt.Sprintf("%s: weight %d (want %d), %d/%d members up", c, b.Weight, w, up, members))
		}
	}
	for c := range want {
		if !seen[c] {
			diffs = append(diffs, c+": not a backend yet")
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

// WaitProxy polls the admin API until every colour in want has its weight and `members`
// healthy members, or the timeout passes; the error then says what differed last.
func WaitProxy(ctx context.Context, c *http.Client, adminURL, token string, want Weights, members int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "no answer yet"
	for {
		st, err := ProxyStatus(ctx, c, adminURL, token)
		if errors.Is(err, ErrAdminRefused) {
			return err
		}
		if err != nil {
			last = err.Error()
		} else if last = proxyMismatch(st, want, members); last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting %s for proxy at %s to serve %s with %d members each: %s", timeout, adminURL, want, members, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
