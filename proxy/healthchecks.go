package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// healthLoop checks every member now and then every HealthInterval.
func (p *Proxy) healthLoop(ctx context.Context) {
	t := time.NewTicker(p.opts.HealthInterval)
	defer t.Stop()
	for {
		p.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNow runs one round of active health checks over every member of the current
// snapshot (drained colours too, so that they are known healthy before they return).
func (p *Proxy) CheckNow(ctx context.Context) {
	s := p.snap.Load()
	if s == nil {
		return
	}
	var wg sync.WaitGroup
	for _, c := range s.colours {
		for _, m := range c.members {
			wg.Go(func() { p.checkMember(ctx, m) })
		}
	}
	wg.Wait()
}

// checkMember GETs the member's health path. Any answer below 500 passes: a backend
// without that path (go-proxy-multiarch's S3 maintenance site, a plain web server)
// answers 404 and is alive; 5xx, timeouts and refused connections fail.
func (p *Proxy) checkMember(ctx context.Context, m *Member) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.HealthTimeout)
	defer cancel()
	u := *m.target
	u.Path, u.RawPath, u.RawQuery = p.opts.HealthPath, "", ""
	ok, result := false, ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err == nil {
		req.Header.Set("User-Agent", "archway-proxy-health")
		var resp *http.Response
		resp, err = p.transport.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			ok = resp.StatusCode < 500
			result = resp.Status
		}
	}
	if err != nil {
		if ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded {
			return // shutting down: no verdict
		}
		result = err.Error()
	}
	m.mu.Lock()
	m.lastCheck = fmt.Sprintf("%s %s", time.Now().UTC().Format(time.RFC3339), result)
	wasDown := m.activeDown
	m.activeDown = !ok
	changed := m.setStateLocked()
	m.mu.Unlock()
	if wasDown != !ok {
		if ok {
			p.log.Info("active health check passing", "color", m.colour, "member", m.URL())
		} else {
			p.log.Warn("active health check failing", "color", m.colour, "member", m.URL(), "result", result)
		}
	}
	if changed {
		p.memberChanged(m)
	}
}
