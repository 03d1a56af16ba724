package delivery

import (
	"fmt"
	"slices"
	"time"

	"github.com/archwayhq/archway/proxy"
)

// Result is a scope's verdict over a window.
type Result string

// The three verdicts. Inconclusive is never a guess in either direction: the step
// waits for more requests (up to Plan.MaxWait).
const (
	Pass         Result = "pass"
	Fail         Result = "fail"
	Inconclusive Result = "inconclusive"
)

// Verdict is one scope's judgement: the canary colour as a whole, or one architecture.
type Verdict struct {
	Scope    string // "green" or "green linux/arm/v7"
	Result   Result
	Requests uint64
	Success  float64 // 0..1; 0 when no requests
	P99      time.Duration
	Detail   string // why, in words: the figure against its bound
}

// Judgement is a whole window's: every scope, and what they add up to.
type Judgement struct {
	Verdicts []Verdict
	Result   Result
	// Reason is the first failing scope's line (Fail), or what is still missing
	// (Inconclusive).
	Reason string
}

// LatencySample is the least number of requests a scope's p99 is judged on: over fewer,
// the p99 is simply the slowest request (a task's first, say), and one slow request is
// not a regression. Until then the scope is inconclusive.
const LatencySample = 100

// Judge compares the canary with its thresholds over one window: colour-wide, then on
// every platform the cluster runs (a platform that saw no canary request is
// inconclusive, not passed). Latency is also compared with the stable colour on the same
// platform when the stable colour had enough requests in the same window.
//
// A scope fails early, before it has MinRequests, when its bad attempts already exceed
// what the threshold allows over the minimum sample: no run of successes could bring
// it back over the line, so waiting would only send more users to a broken release.
func Judge(w Window, canary, stable string, platforms []string, t Thresholds) Judgement {
	j := Judgement{Result: Pass}
	scopes := []struct {
		name     string
		can, stb Counts
		min      uint64
	}{{canary, w.Colour(canary), w.Colour(stable), t.MinRequests}}
	ps := slices.Clone(platforms)
	slices.Sort(ps)
	for _, p := range ps {
		scopes = append(scopes, struct {
			name     string
			can, stb Counts
			min      uint64
		}{canary + " " + p, w.Groups[Key{canary, p}], w.Groups[Key{stable, p}], t.MinPlatformRequests})
	}
	var failing []Verdict
	for _, s := range scopes {
		v := judgeScope(s.name, s.can, s.stb, s.min, w.Bounds, t)
		j.Verdicts = append(j.Verdicts, v)
		switch v.Result {
		case Fail:
			failing = append(failing, v)
		case Inconclusive:
			if j.Result == Pass {
				j.Result, j.Reason = Inconclusive, v.Scope+": "+v.Detail
			}
		}
	}
	if len(failing) > 0 {
		// The reason names one architecture when only one fails ("green linux/arm/v7
		// success …" says more than "green …"), the colour when the failure is broad.
		pick := failing[0]
		if len(failing) == 2 && pick.Scope == canary {
			pick = failing[1]
		}
		j.Result, j.Reason = Fail, pick.Scope+" "+pick.Detail
	}
	return j
}

func judgeScope(scope string, can, stb Counts, min uint64, bounds []float64, t Thresholds) Verdict {
	v := Verdict{Scope: scope, Requests: can.Requests}
	if can.Requests == 0 {
		v.Result, v.Detail = Inconclusive, fmt.Sprintf("no requests yet (need %d)", min)
		return v
	}
	v.Success = float64(can.Requests-can.Bad()) / float64(can.Requests)
	v.P99 = p99(bounds, can.Hist)
	allowed := (1 - t.MinSuccess) * float64(max(can.Requests, min))
	if float64(can.Bad()) > allowed+1e-9 {
		v.Result = Fail
		v.Detail = fmt.Sprintf("success %s < %s over %d requests", pct(v.Success), pct(t.MinSuccess), can.Requests)
		if can.Requests < min {
			v.Detail += fmt.Sprintf(" (%d bad: more than %s of the %d needed can be)", can.Bad(), pct(1-t.MinSuccess), min)
		}
		return v
	}
	if can.Requests < min {
		v.Result, v.Detail = Inconclusive, fmt.Sprintf("%d of %d requests", can.Requests, min)
		return v
	}
	if can.Requests < LatencySample {
		v.Result, v.Detail = Inconclusive, fmt.Sprintf("success %s; latency needs %d requests, %d so far", pct(v.Success), LatencySample, can.Requests)
		return v
	}
	if v.P99 > t.MaxP99 {
		v.Result, v.Detail = Fail, fmt.Sprintf("p99 %s > %s over %d requests", ms(v.P99), ms(t.MaxP99), can.Requests)
		return v
	}
	v.Result = Pass
	v.Detail = fmt.Sprintf("success %s, p99 %s", pct(v.Success), ms(v.P99))
	if stb.Requests >= max(min, LatencySample) {
		sp := p99(bounds, stb.Hist)
		limit := time.Duration(float64(sp+t.P99Slack) * t.MaxP99Ratio)
		if v.P99 > limit {
			v.Result = Fail
			v.Detail = fmt.Sprintf("p99 %s > %.1f × (stable %s + %s) over %d requests", ms(v.P99), t.MaxP99Ratio, ms(sp), ms(t.P99Slack), can.Requests)
			return v
		}
		v.Detail += fmt.Sprintf(" (stable %s)", ms(sp))
	}
	return v
}

func p99(bounds []float64, hist []uint64) time.Duration {
	return time.Duration(proxy.HistogramQuantile(bounds, hist, 0.99) * float64(time.Second))
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
