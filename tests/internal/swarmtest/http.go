package swarmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/archwayhq/archway/app"
)

// Info is what archway-app's GET /api/info reports: the app's own app.Info, with Color
// upper-cased as the proxy names colours.
type Info struct {
	app.Info
	// Raw keeps every field, for logs (variant, os, …).
	Raw map[string]any `json:"-"`
}

var httpClient = &http.Client{
	Timeout: 5 * time.Second,
	Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	},
}

// GetInfo asks base+"/api/info"; header, if non-nil, is added to the request.
func GetInfo(ctx context.Context, base string, header http.Header) (Info, http.Header, error) {
	in, h, _, err := GetInfoWith(ctx, httpClient, base, header)
	return in, h, err
}

// GetInfoWith is GetInfo with a client of the caller's (TLS) that also returns the
// response's protocol (HTTP/1.1, HTTP/2.0).
func GetInfoWith(ctx context.Context, client *http.Client, base string, header http.Header) (Info, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/info", nil)
	if err != nil {
		return Info{}, nil, "", err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Info{}, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return Info{}, resp.Header, resp.Proto, fmt.Errorf("GET %s: read body: %w", req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Info{}, resp.Header, resp.Proto, fmt.Errorf("GET %s: %s: %s", req.URL, resp.Status, firstLine(body))
	}
	in, h, err := ParseInfo(body, resp.Header)
	return in, h, resp.Proto, err
}

// ParseInfo decodes an /api/info body.
func ParseInfo(body []byte, h http.Header) (Info, http.Header, error) {
	var in Info
	if err := json.Unmarshal(body, &in); err != nil {
		return Info{}, h, fmt.Errorf("/api/info: %w: %s", err, firstLine(body))
	}
	_ = json.Unmarshal(body, &in.Raw)
	if in.GOARCH == "" {
		return Info{}, h, fmt.Errorf("/api/info has no goarch: %s", firstLine(body))
	}
	in.Color = strings.ToUpper(in.Color)
	return in, h, nil
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Counts tallies requests by outcome, colour and architecture.
type Counts struct {
	OK, Failed int
	ByColour   map[string]int
	ByArch     map[string]int
	// failures keeps the first and the latest few failures, numbered (see Errors).
	failures []failure
	// FirstFail and LastFail are when the first and the latest failure happened (zero
	// without failures): how long users saw a broken release.
	FirstFail, LastFail time.Time
}

func newCounts() Counts { return Counts{ByColour: map[string]int{}, ByArch: map[string]int{}} }

func (c *Counts) add(in Info, err error, at time.Time) {
	if err != nil {
		c.Failed++
		if c.FirstFail.IsZero() {
			c.FirstFail = at
		}
		c.LastFail = at
		c.keep(failure{n: c.Failed, line: at.Format("15:04:05.000") + " " + err.Error()})
		return
	}
	c.OK++
	c.ByColour[in.Color]++
	c.ByArch[in.GOARCH]++
}

// Sub returns c minus an earlier snapshot of the same tally.
func (c Counts) Sub(earlier Counts) Counts {
	d := newCounts()
	d.OK, d.Failed = c.OK-earlier.OK, c.Failed-earlier.Failed
	for k, v := range c.ByColour {
		if v-earlier.ByColour[k] != 0 {
			d.ByColour[k] = v - earlier.ByColour[k]
		}
	}
	for k, v := range c.ByArch {
		if v-earlier.ByArch[k] != 0 {
			d.ByArch[k] = v - earlier.ByArch[k]
		}
	}
	for _, f := range c.failures {
		if f.n > earlier.Failed {
			d.failures = append(d.failures, failure{n: f.n - earlier.Failed, line: f.line})
		}
	}
	if d.Failed > 0 {
		d.FirstFail, d.LastFail = c.FirstFail, c.LastFail
		if !earlier.LastFail.IsZero() {
			d.FirstFail = earlier.LastFail // the earliest this window's first can be known from two tallies
		}
	}
	return d
}

// keptFirst and keptLast bound the failures a tally keeps: the first show how a
// failure began, the latest how it went on (a window taken late in a long run is
// made of those).
const keptFirst, keptLast = 5, 5

// failure is one failed request: n is its number in the tally (1 for the first).
type failure struct {
	n    int
	line string
}

// keep adds f, dropping the oldest failure after the first keptFirst once more than
// keptLast follow them.
func (c *Counts) keep(f failure) {
	if len(c.failures) == keptFirst+keptLast {
		c.failures = slices.Delete(c.failures, keptFirst, keptFirst+1)
	}
	c.failures = append(c.failures, f)
}

// Errors returns the failures kept, each with its time, and a line saying how many
// were left out between the first and the latest.
func (c Counts) Errors() []string {
	var out []string
	prev := 0
	for _, f := range c.failures {
		if f.n > prev+1 {
			out = append(out, fmt.Sprintf("(%d more)", f.n-prev-1))
		}
		out = append(out, f.line)
		prev = f.n
	}
	return out
}

func (c Counts) String() string {
	return fmt.Sprintf("ok=%d failed=%d colours=%s arches=%s", c.OK, c.Failed, fmtMap(c.ByColour), fmtMap(c.ByArch))
}

func fmtMap(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Sample sends n sequential requests to base and tallies them.
// Not rollout.Sample: the suite tallies by engine GOARCH (and keeps failures' times), rollout by platform and uname -m.
func Sample(ctx context.Context, base string, n int) Counts {
	c, _ := SampleWith(ctx, httpClient, base, n)
	return c
}

// SampleWith is Sample with the caller's client; it also tallies the response
// protocols.
func SampleWith(ctx context.Context, client *http.Client, base string, n int) (Counts, map[string]int) {
	c, protos := newCounts(), map[string]int{}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		in, _, proto, err := GetInfoWith(ctx, client, base, nil)
		c.add(in, err, time.Now())
		if err == nil {
			protos[proto]++
		}
	}
	return c, protos
}

// Load is a steady request stream against one URL from several workers.
// Not rollout.Load: the suite needs the per-colour tally of the load itself (split under load), rollout only counts ok/failed.
type Load struct {
	mu     sync.Mutex
	counts Counts
	// sent is when each worker sent the request it waits on, zero between requests:
	// what SentBefore checks.
	sent   []time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  time.Time
}

// StartLoad starts workers looping GET base/api/info with pause between requests;
// Stop ends it (t.Cleanup also does).
func StartLoad(ctx context.Context, base string, workers int, pause time.Duration) *Load {
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{counts: newCounts(), sent: make([]time.Time, workers), cancel: cancel, start: time.Now()}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.setSent(w, time.Time{})
			for ctx.Err() == nil {
				l.setSent(w, time.Now())
				in, _, err := GetInfo(ctx, base, nil)
				if ctx.Err() != nil {
					return // cancelled mid-request: not a failure of the system under test
				}
				l.mu.Lock()
				l.counts.add(in, err, time.Now())
				l.sent[w] = time.Time{}
				l.mu.Unlock()
				if pause > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
			}
		}()
	}
	return l
}

func (l *Load) setSent(w int, at time.Time) {
	l.mu.Lock()
	l.sent[w] = at
	l.mu.Unlock()
}

// SentBefore is a WaitOn check: it succeeds once every request sent before at has
// been tallied, so that a Snapshot taken then counts only requests sent after at on its
// later side (a request sent just before a weight change may end after it).
func (l *Load) SentBefore(at time.Time) Check {
	return func() Result {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for _, sent := range l.sent {
			if !sent.IsZero() && sent.Before(at) {
				n++
			}
		}
		if n > 0 {
			return Continue("%d requests sent before %s still in flight", n, at.Format("15:04:05.000"))
		}
		return Success()
	}
}

// Steady is a WaitOn check for a stretch of load: it succeeds once n more requests
// than in since have been answered, and fails at once when one of them failed.
func (l *Load) Steady(since Counts, n int) Check {
	return func() Result {
		d := l.Snapshot().Sub(since)
		switch {
		case d.Failed > 0:
			return Error(fmt.Errorf("%d of %d requests failed: %v", d.Failed, d.OK+d.Failed, d.Errors()))
		case d.OK < n:
			return Continue("%d of %d requests answered: %s", d.OK, n, d)
		}
		return Success()
	}
}

// Snapshot returns the tally so far (a copy).
func (l *Load) Snapshot() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts.Sub(newCounts())
}

// Stop ends the load and returns the final tally and its duration.
func (l *Load) Stop() (Counts, time.Duration) {
	l.cancel()
	l.wg.Wait()
	return l.Snapshot(), time.Since(l.start)
}
