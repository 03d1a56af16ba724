package delivery

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Plan is how a release steps and what it must show at every step.
type Plan struct {
	// Steps are the canary's share of new requests in percent, rising, ending at 100
	// (the promotion), e.g. 5, 25, 50, 100.
	Steps []int
	// Hold is the least time a step lasts before it may pass.
	Hold time.Duration
	// MaxWait bounds a step that stays inconclusive (too few requests, a proxy that
	// does not answer): past it the release aborts to the stable colour.
	MaxWait time.Duration
	// Pause asks for a manual `resume` before the promotion (the step to 100%).
	Pause bool
	Thresholds
}

// Thresholds are what a canary scope (its colour, and each architecture) must meet.
type Thresholds struct {
	// MinRequests is the least number of canary attempts over a step's window before
	// the colour-wide figures are judged; MinPlatformRequests the same per architecture.
	MinRequests, MinPlatformRequests uint64
	// MinSuccess is the least share of attempts that were neither 5xx nor failed, 0..1.
	MinSuccess float64
	// MaxP99 bounds the canary's p99 latency outright.
	MaxP99 time.Duration
	// MaxP99Ratio bounds the canary's p99 against the stable colour's on the same
	// architecture over the same window; P99Slack is added to the stable figure first,
	// so that 2 ms against 1 ms is not a regression.
	MaxP99Ratio float64
	P99Slack    time.Duration
}

// DefaultPlan is what `release` does without flags: four steps of five minutes, as a
// production rollout would. The demo and the tests pass shorter holds.
func DefaultPlan() Plan {
	return Plan{
		Steps: []int{5, 25, 50, 100}, Hold: 5 * time.Minute, MaxWait: 15 * time.Minute,
		Thresholds: Thresholds{
			MinRequests: 200, MinPlatformRequests: 50, MinSuccess: 0.99,
			MaxP99: 2 * time.Second, MaxP99Ratio: 2, P99Slack: 25 * time.Millisecond,
		},
	}
}

// ParseSteps reads "5,25,50,100". Every error names the entry and the value.
func ParseSteps(s string) ([]int, error) {
	var steps []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "%"))
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("-steps=%q: entry %q is not a whole percentage", s, f)
		}
		steps = append(steps, n)
	}
	return steps, nil
}

// Validate checks every field; the error names the setting and its value, so a bad
// plan stops a release before any weight moves.
func (p Plan) Validate() error {
	if len(p.Steps) == 0 {
		return fmt.Errorf("-steps: empty plan: want rising percentages ending at 100, e.g. 5,25,50,100")
	}
	prev := 0
	for i, s := range p.Steps {
		if s < 1 || s > 100 {
			return fmt.Errorf("-steps=%s: step %d is %d%%: want 1..100", stepsString(p.Steps), i+1, s)
		}
		if s <= prev {
			return fmt.Errorf("-steps=%s: step %d (%d%%) does not rise above step %d (%d%%)", stepsString(p.Steps), i+1, s, i, prev)
		}
		prev = s
	}
	if prev != 100 {
		return fmt.Errorf("-steps=%s: the plan ends at %d%%: its last step must be 100 (the promotion)", stepsString(p.Steps), prev)
	}
	switch {
	case p.Hold < time.Second || p.Hold > 24*time.Hour:
		return fmt.Errorf("-hold=%s: want a duration from 1s to 24h", p.Hold)
	case p.MaxWait < p.Hold:
		return fmt.Errorf("-max-wait=%s: want at least -hold (%s)", p.MaxWait, p.Hold)
	}
	return p.Thresholds.Validate()
}

// Validate checks the thresholds' ranges.
func (t Thresholds) Validate() error {
	switch {
	case math.IsNaN(t.MinSuccess) || t.MinSuccess <= 0 || t.MinSuccess > 1:
		return fmt.Errorf("-min-success=%v: want a share above 0 and at most 1, e.g. 0.99", t.MinSuccess)
	case t.MinRequests < 1 || t.MinRequests > 1_000_000:
		return fmt.Errorf("-min-requests=%d: want 1..1000000", t.MinRequests)
	case t.MinPlatformRequests < 1 || t.MinPlatformRequests > t.MinRequests:
		return fmt.Errorf("-min-platform-requests=%d: want 1..-min-requests (%d)", t.MinPlatformRequests, t.MinRequests)
	case t.MaxP99 <= 0 || t.MaxP99 > time.Minute:
		return fmt.Errorf("-max-p99=%s: want a duration above 0 and at most 1m", t.MaxP99)
	case math.IsNaN(t.MaxP99Ratio) || t.MaxP99Ratio < 1 || t.MaxP99Ratio > 100:
		return fmt.Errorf("-max-p99-ratio=%v: want 1..100 (the canary's p99 against the stable colour's)", t.MaxP99Ratio)
	case t.P99Slack < 0 || t.P99Slack > 10*time.Second:
		return fmt.Errorf("-p99-slack=%s: want 0..10s", t.P99Slack)
	}
	return nil
}

func stepsString(steps []int) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, ",")
}
