package delivery

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Counts are one scope's attempt counters as the proxy reports them since it started:
// Hist holds the attempts per latency bucket (Bounds, in seconds, and one more above).
type Counts struct {
	Requests, OK, Errors5xx, Failed uint64
	Hist                            []uint64
}

// Bad is the attempts that count against the canary: 5xx answers and attempts that got
// no answer at all.
func (c Counts) Bad() uint64 { return c.Errors5xx + c.Failed }

// Key names a scope of the proxy's statistics: a colour on one platform.
type Key struct{ Colour, Platform string }

// Reading is one GET /status of the proxy, reduced to what judging needs.
type Reading struct {
	// Host and Start identify the proxy process, so that a window never spans a
	// restart (Start is estimated from its uptime: equal within a second or two).
	Host   string
	Start  time.Time
	Bounds []float64 // latency bucket upper bounds, seconds
	Groups map[Key]Counts
}

// ErrRestarted says a window's two readings come from different proxy processes, or a
// counter went backwards: the window must start again.
var ErrRestarted = errors.New("the proxy restarted during the window; starting it again")

// Window is what happened between two readings of the same proxy.
type Window struct {
	Bounds []float64
	Groups map[Key]Counts
}

// Since subtracts an earlier reading from r.
func (r Reading) Since(before Reading) (Window, error) {
	if d := r.Start.Sub(before.Start); r.Host != before.Host || d > 2*time.Second || d < -2*time.Second || !slices.Equal(r.Bounds, before.Bounds) {
		return Window{}, ErrRestarted
	}
	w := Window{Bounds: r.Bounds, Groups: make(map[Key]Counts, len(r.Groups))}
	for k, a := range r.Groups {
		b := before.Groups[k]
		d, err := a.minus(b)
		if err != nil {
			return Window{}, fmt.Errorf("%s %s: %w", k.Colour, k.Platform, err)
		}
		w.Groups[k] = d
	}
	for k := range before.Groups {
		if _, ok := r.Groups[k]; !ok {
			return Window{}, fmt.Errorf("%s %s vanished: %w", k.Colour, k.Platform, ErrRestarted)
		}
	}
	return w, nil
}

func (a Counts) minus(b Counts) (Counts, error) {
	if a.Requests < b.Requests || a.OK < b.OK || a.Errors5xx < b.Errors5xx || a.Failed < b.Failed {
		return Counts{}, ErrRestarted
	}
	d := Counts{Requests: a.Requests - b.Requests, OK: a.OK - b.OK, Errors5xx: a.Errors5xx - b.Errors5xx, Failed: a.Failed - b.Failed}
	if b.Hist != nil && len(a.Hist) != len(b.Hist) {
		return Counts{}, ErrRestarted
	}
	d.Hist = make([]uint64, len(a.Hist))
	for i := range a.Hist {
		var prev uint64
		if b.Hist != nil {
			prev = b.Hist[i]
		}
		if a.Hist[i] < prev {
			return Counts{}, ErrRestarted
		}
		d.Hist[i] = a.Hist[i] - prev
	}
	return d, nil
}

// Colour sums a colour's platforms.
func (w Window) Colour(colour string) Counts {
	sum := Counts{Hist: make([]uint64, len(w.Bounds)+1)}
	for k, c := range w.Groups {
		if k.Colour != colour {
			continue
		}
		sum.Requests += c.Requests
		sum.OK += c.OK
		sum.Errors5xx += c.Errors5xx
		sum.Failed += c.Failed
		for i := range c.Hist {
			if i < len(sum.Hist) {
				sum.Hist[i] += c.Hist[i]
			}
		}
	}
	return sum
}
