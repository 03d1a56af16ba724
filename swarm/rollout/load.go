package rollout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load is a steady background load: a few workers sending GET requests in a loop until
// stopped. It exists to prove that a weight change or a rolling update loses nothing.
type Load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	first      time.Time // of the first failure
	last       time.Time // of the latest failure
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// LoadResult is what a Load saw.
type LoadResult struct {
	OK, Failed int64
	Errors     []string // the first few failures, verbatim
	// FirstFail and LastFail are when the first and the latest failure happened: how
	// long users saw a broken release.
	FirstFail, LastFail time.Time
}

func (r LoadResult) String() string {
	s := fmt.Sprintf("%d requests, %d failed", r.OK+r.Failed, r.Failed)
	if len(r.Errors) > 0 {
		s += fmt.Sprintf(" (first: %s)", r.Errors[0])
	}
	return s
}

// StartLoad starts workers goroutines against url, each pausing interval between
// requests (0 for none). Stop ends it.
func StartLoad(ctx context.Context, c *http.Client, url string, workers int, interval time.Duration) *Load {
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cancel: cancel}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				l.one(ctx, c, url)
				if interval > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(interval):
					}
				}
			}
		}()
	}
	return l
}

func (l *Load) one(ctx context.Context, c *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		l.fail(err.Error())
		return
	}
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		return // stopped mid-request: not the system's failure
	}
	if err != nil {
		l.fail(err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.fail(resp.Status)
		return
	}
	l.ok.Add(1)
}

func (l *Load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	now := time.Now()
	if l.first.IsZero() {
		l.first = now
	}
	l.last = now
	if len(l.errs) < 5 {
		l.errs = append(l.errs, msg)
	}
	l.mu.Unlock()
}

// Sub is what the load saw between an earlier snapshot and r. FirstFail is then a
// lower bound: two snapshots do not tell when the first failure after the earlier one
// came, only that it came after that snapshot's last.
func (r LoadResult) Sub(earlier LoadResult) LoadResult {
	d := LoadResult{OK: r.OK - earlier.OK, Failed: r.Failed - earlier.Failed, Errors: r.Errors[min(len(earlier.Errors), len(r.Errors)):]}
	if d.Failed > 0 {
		d.FirstFail, d.LastFail = r.FirstFail, r.LastFail
		if earlier.Failed > 0 {
			d.FirstFail = earlier.LastFail
		}
	}
	return d
}

// Snapshot reads the counters without stopping.
func (l *Load) Snapshot() LoadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadResult{OK: l.ok.Load(), Failed: l.failed.Load(), Errors: append([]string(nil), l.errs...), FirstFail: l.first, LastFail: l.last}
}

// Stop ends the load and returns its totals.
func (l *Load) Stop() LoadResult {
	l.cancel()
	l.wg.Wait()
	return l.Snapshot()
}
