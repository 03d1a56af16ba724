package proxy

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Statistics per colour and platform: what a canary analysis judges. A release that
// fails only on linux/arm/v7 is invisible in a colour's totals when arm/v7 is one node
// of five; here it has its own row. Each member holds a pointer to its group, resolved
// when the snapshot is built, so recording costs EndAt one more set of atomic adds — no
// map lookup, no allocation. Groups outlive their members: a task replaced by a new one
// on the same platform (a new member, a new address) keeps adding to the same counters,
// and a reader diffing two readings never sees them go back. Only past MaxGroups (colour
// names churned by labels or the admin API) are groups without members dropped, oldest
// first, so that memory and /metrics stay bounded.

// UnknownPlatform is the group platform of members whose node's platform is not known.
const UnknownPlatform = "unknown"

// MaxGroups bounds the (colour, platform) groups kept: MaxColours colours on 16
// platforms. Beyond it, groups that have no member left are dropped, oldest first.
const MaxGroups = MaxColours * 16

// Recent-window bounds (STATS_WINDOW).
const (
	DefaultStatsWindow = 60 * time.Second
	MinStatsWindow     = 10 * time.Second
	MaxStatsWindow     = time.Hour
	// windowCopies is how many copies of the counters the ring keeps, one every
	// window/windowCopies: "recent" spans between 11/12 of the window and the window.
	windowCopies = 12
)

// failedClass is the class index of an attempt without a usable response (connect
// refused, reset, the attempt deadline, a truncated response); 1..5 are status/100.
const failedClass = 0

// groupStats are the counters of one (colour, platform). Only atomics are written on
// the hot path; everything else is fixed at creation.
type groupStats struct {
	colour, platform string
	idx              int // position in groupSet.list, and in every window copy
	classes          [6]atomic.Uint64
	buckets          [len(latencyBuckets) + 1]atomic.Uint64
	sumNanos         atomic.Uint64
}

// record counts one attempt: cls is failedClass or status/100, bucket the latency
// histogram bucket of d.
func (g *groupStats) record(cls, bucket int, d time.Duration) {
	g.classes[cls].Add(1)
	g.buckets[bucket].Add(1)
	g.sumNanos.Add(uint64(d))
}

// groupCounts is one reading of a group's counters.
type groupCounts struct {
	classes  [6]uint64
	buckets  [len(latencyBuckets) + 1]uint64
	sumNanos uint64
}

func (g *groupStats) load() groupCounts {
	var c groupCounts
	for i := range c.classes {
		c.classes[i] = g.classes[i].Load()
	}
	for i := range c.buckets {
		c.buckets[i] = g.buckets[i].Load()
	}
	c.sumNanos = g.sumNanos.Load()
	return c
}

// minus is c - base, counter by counter; a counter below its base (impossible within
// one process, but a reading is not atomic as a whole) counts 0.
func (c groupCounts) minus(base groupCounts) groupCounts {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	var d groupCounts
	for i := range c.classes {
		d.classes[i] = sub(c.classes[i], base.classes[i])
	}
	for i := range c.buckets {
		d.buckets[i] = sub(c.buckets[i], base.buckets[i])
	}
	d.sumNanos = sub(c.sumNanos, base.sumNanos)
	return d
}

// windowCopy is the counters of every group at one moment; groups created after it
// (idx beyond counts) were all zero then.
type windowCopy struct {
	at     time.Time
	counts []groupCounts
}

// groupSet holds every group the proxy has seen and the ring of window copies.
type groupSet struct {
	mu     sync.Mutex // cold path only: snapshot builds, window copies, readers
	byKey  map[groupKey]*groupStats
	list   []*groupStats
	window time.Duration
	ring   [windowCopies]windowCopy
	next   int // ring index the next copy goes to
	filled int // copies in the ring
}

type groupKey struct{ colour, platform string }

func newGroupSet(window time.Duration, start time.Time) *groupSet {
	gs := &groupSet{byKey: map[groupKey]*groupStats{}, window: window}
	// The first copy is the start, when every counter was 0: until the ring fills,
	// "recent" is since start and says so in its window_seconds.
	gs.ring[0] = windowCopy{at: start}
	gs.next, gs.filled = 1, 1
	return gs
}

// get returns the group of (colour, platform), creating it on first sight.
func (gs *groupSet) get(colour, platform string) *groupStats {
	if platform == "" {
		platform = UnknownPlatform
	}
	k := groupKey{colour, platform}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g := gs.byKey[k]
	if g == nil {
		g = &groupStats{colour: colour, platform: platform, idx: len(gs.list)}
		gs.byKey[k] = g
		gs.list = append(gs.list, g)
	}
	return g
}

// count is how many groups there are.
func (gs *groupSet) count() int {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	return len(gs.list)
}

// prune drops groups that no member uses (used is the set the new snapshot's members
// point to), oldest first, until at most limit remain; used groups are always kept. It
// reports how many it dropped. The ring's copies are re-indexed with the groups.
func (gs *groupSet) prune(used map[*groupStats]bool, limit int) int {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	drop := len(gs.list) - limit
	if drop <= 0 {
		return 0
	}
	kept := make([]*groupStats, 0, limit)
	oldIdx := make([]int, 0, limit)
	dropped := 0
	for _, g := range gs.list {
		if dropped < drop && !used[g] {
			delete(gs.byKey, groupKey{g.colour, g.platform})
			dropped++
			continue
		}
		oldIdx = append(oldIdx, g.idx)
		g.idx = len(kept)
		kept = append(kept, g)
	}
	for i := range gs.ring {
		c := &gs.ring[i]
		// Groups keep their order, so those the copy held (old index below its length)
		// are still a prefix of the list.
		counts := make([]groupCounts, 0, len(c.counts))
		for _, old := range oldIdx {
			if old >= len(c.counts) {
				break
			}
			counts = append(counts, c.counts[old])
		}
		c.counts = counts
	}
	gs.list = kept
	return dropped
}

// copyAt adds a copy of every group's counters taken at now to the ring, replacing
// the oldest once the ring is full.
func (gs *groupSet) copyAt(now time.Time) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	c := &gs.ring[gs.next]
	c.at = now
	c.counts = c.counts[:0]
	for _, g := range gs.list {
		c.counts = append(c.counts, g.load())
	}
	gs.next = (gs.next + 1) % windowCopies
	gs.filled = min(gs.filled+1, windowCopies)
}

// oldestLocked is the oldest copy in the ring: the base of "recent".
func (gs *groupSet) oldestLocked() *windowCopy {
	if gs.filled < windowCopies {
		return &gs.ring[0]
	}
	return &gs.ring[gs.next]
}

// statsLoop takes a window copy every window/windowCopies until ctx ends. ParseConfig
// bounds the window; Options from elsewhere are only kept from a zero period.
func (p *Proxy) statsLoop(ctx context.Context) {
	t := time.NewTicker(max(p.groups.window/windowCopies, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.groups.copyAt(now)
		}
	}
}

// GroupStatus is one (colour, platform) in GET /status "groups": its counters since
// start and over the recent window. A reader judging a step of its own diffs two
// "total" readings (a drop in any counter means the proxy restarted).
type GroupStatus struct {
	Color    string `json:"color"`    // lower case
	Platform string `json:"platform"` // OCI platform, or "unknown"
	// Members is how many members the group has now (0: none left; the counters stay).
	Members int         `json:"members"`
	Total   GroupCounts `json:"total"`
	Recent  GroupCounts `json:"recent"`
}

// GroupCounts are a group's attempts over a span: since start ("total") or the recent
// window ("recent"). Client faults are the client's and never counted here.
type GroupCounts struct {
	// Requests is every attempt recorded: OK + Errors5xx + Failed.
	Requests uint64 `json:"requests"`
	// OK counts answers with status 1xx-4xx; Errors5xx status 5xx; Failed attempts
	// without a usable response (connect refused, reset, timeout, truncated).
	OK        uint64 `json:"ok"`
	Errors5xx uint64 `json:"errors_5xx"`
	Failed    uint64 `json:"failed"`
	// Codes counts by class: "1xx" … "5xx" and "failed"; classes with 0 left out.
	Codes map[string]uint64 `json:"codes"`
	// SuccessRate is OK / Requests, 0 without requests.
	SuccessRate float64   `json:"success_rate"`
	LatencyMS   Latency   `json:"latency_ms"`
	Histogram   Histogram `json:"histogram"`
	// WindowSeconds is the span the counts cover: for "recent" up to STATS_WINDOW
	// (less in the first window after start), for "total" the uptime.
	WindowSeconds float64 `json:"window_seconds"`
}

// Histogram is a latency histogram: Counts[i] attempts took at most LeSeconds[i] (and
// more than LeSeconds[i-1]); the last count, one more than the bounds, took longer
// than the last bound. Counts are per bucket, not cumulative.
type Histogram struct {
	LeSeconds []float64 `json:"le_seconds"`
	Counts    []uint64  `json:"counts"`
}

// status turns a reading over span into its JSON form.
func (c groupCounts) status(span time.Duration) GroupCounts {
	out := GroupCounts{
		Failed: c.classes[failedClass], Errors5xx: c.classes[5], Codes: map[string]uint64{},
		// Copies: a Status is the caller's to change, latencyBuckets is not.
		Histogram:     Histogram{LeSeconds: slices.Clone(latencyBuckets[:]), Counts: slices.Clone(c.buckets[:])},
		WindowSeconds: span.Round(time.Millisecond).Seconds(),
	}
	for cls, n := range c.classes {
		if cls >= 1 && cls <= 4 {
			out.OK += n
		}
		if n > 0 {
			out.Codes[groupClassLabel(cls)] = n
		}
	}
	out.Requests = out.OK + out.Errors5xx + out.Failed
	if out.Requests > 0 {
		out.SuccessRate = float64(out.OK) / float64(out.Requests)
		out.LatencyMS = Latency{
			Avg: roundMS(float64(c.sumNanos) / 1e9 / float64(out.Requests)),
			P50: roundMS(HistogramQuantile(latencyBuckets[:], c.buckets[:], 0.5)),
			P99: roundMS(HistogramQuantile(latencyBuckets[:], c.buckets[:], 0.99)),
		}
	}
	return out
}

func groupClassLabel(cls int) string {
	if cls == failedClass {
		return "failed"
	}
	return classLabel(cls)
}

// groupReading is one group's counters since start and over the recent window.
type groupReading struct {
	g              *groupStats
	total, recent  groupCounts
	uptime, window time.Duration
}

// readGroups reads every group, sorted by colour and platform.
func (p *Proxy) readGroups(now time.Time) []groupReading {
	gs := p.groups
	gs.mu.Lock()
	base := gs.oldestLocked()
	out := make([]groupReading, 0, len(gs.list))
	for _, g := range gs.list {
		r := groupReading{g: g, total: g.load(), uptime: now.Sub(p.start), window: now.Sub(base.at)}
		r.recent = r.total
		if g.idx < len(base.counts) {
			r.recent = r.total.minus(base.counts[g.idx])
		}
		out = append(out, r)
	}
	gs.mu.Unlock()
	slices.SortFunc(out, func(a, b groupReading) int {
		return cmp.Or(cmp.Compare(a.g.colour, b.g.colour), cmp.Compare(a.g.platform, b.g.platform))
	})
	return out
}

// groupStatuses is Status.Groups: every group seen since start, with its current
// member count from snapshot s (nil: none).
func (p *Proxy) groupStatuses(s *snapshot, now time.Time) []GroupStatus {
	members := map[*groupStats]int{}
	if s != nil {
		for _, c := range s.colours {
			for _, m := range c.members {
				if g := m.group.Load(); g != nil {
					members[g]++
				}
			}
		}
	}
	out := []GroupStatus{}
	for _, r := range p.readGroups(now) {
		out = append(out, GroupStatus{
			Color: r.g.colour, Platform: r.g.platform, Members: members[r.g],
			Total: r.total.status(r.uptime), Recent: r.recent.status(r.window),
		})
	}
	return out
}
