package delivery

import (
	"time"

	"github.com/archwayhq/archway/proxy"
)

// readingFrom reduces a GET /status to the counters since the proxy started, per
// colour and platform (the recent window the page shows is not used: a step's window
// is the difference of two readings, exactly the requests of the step).
func readingFrom(st proxy.Status, at time.Time) Reading {
	r := Reading{
		Host:   st.Hostname,
		Start:  at.Add(-time.Duration(st.UptimeSeconds * float64(time.Second))),
		Groups: map[Key]Counts{},
	}
	for _, g := range st.Groups {
		t := g.Total
		if r.Bounds == nil {
			r.Bounds = t.Histogram.LeSeconds
		}
		r.Groups[Key{g.Color, g.Platform}] = Counts{
			Requests: t.Requests, OK: t.OK, Errors5xx: t.Errors5xx, Failed: t.Failed,
			Hist: t.Histogram.Counts,
		}
	}
	if r.Bounds == nil {
		r.Bounds = proxy.LatencyBounds()
	}
	return r
}
