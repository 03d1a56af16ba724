package proxy

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Rollout is what the deploying tool reports of the release in progress. The proxy
// only shows it (GET /status "rollout", the /ui page): it never acts on it, so a
// rollout the tool abandoned cannot move a weight. The Swarm provider reads it from
// the canary service's label archway.release (swarmprovider.LabelRelease).
type Rollout struct {
	Release string `json:"release"` // id, e.g. r-20261201-143015
	Image   string `json:"image"`
	// Phase is one of RolloutPhases.
	Phase string `json:"phase"`
	// Step is the 1-based index into Plan while stepping; 0 before.
	Step int `json:"step"`
	// Plan is the canary's percentages, e.g. [5, 25, 50, 100].
	Plan   []int  `json:"plan"`
	Canary string `json:"canary"` // colour, lower case
	Stable string `json:"stable"`
	// Reason is the one-line verdict that ended the rollout, or why it is paused.
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Verdicts are the latest judgement of the current step.
	Verdicts []RolloutVerdict `json:"verdicts,omitempty"`
}

// RolloutVerdict is one check of a step: a colour, or a colour on one platform.
type RolloutVerdict struct {
	Scope    string  `json:"scope"`  // "green" or "green linux/arm/v7"
	Result   string  `json:"result"` // pass, fail, inconclusive
	Requests uint64  `json:"requests"`
	Success  float64 `json:"success"` // 0..1
	P99MS    float64 `json:"p99_ms"`
	Detail   string  `json:"detail,omitempty"`
}

// clone is a deep copy: the proxy keeps its own, so a caller changing its value
// afterwards changes nothing shown.
func (r *Rollout) clone() *Rollout {
	if r == nil {
		return nil
	}
	c := *r
	c.Plan = slices.Clone(r.Plan)
	c.Verdicts = slices.Clone(r.Verdicts)
	return &c
}

// SetRollout replaces the rollout /status and /ui show; nil clears it. The provider
// calls it whenever the label changes; a change of release, phase, step or reason is
// logged in one line.
func (p *Proxy) SetRollout(r *Rollout) {
	r = r.clone()
	old := p.rollout.Swap(r)
	switch {
	case r == nil && old != nil:
		p.log.Info("rollout cleared", "release", old.Release)
	case r != nil && (old == nil || old.Release != r.Release || old.Phase != r.Phase || old.Step != r.Step || old.Reason != r.Reason):
		p.log.Info("rollout", "release", clip(r.Release), "phase", clip(r.Phase), "step", r.Step,
			"steps", len(r.Plan), "canary", clip(r.Canary), "reason", clip(r.Reason))
	}
}

// Rollout is the rollout last set (a copy), nil when none.
func (p *Proxy) Rollout() *Rollout { return p.rollout.Load().clone() }

// clip bounds a string from a label for a log line (the label may hold 64 KiB), cut
// at a rune boundary.
func clip(s string) string {
	const limit = 200
	if len(s) <= limit {
		return s
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// RolloutStaleAfter is how long a rollout in an active phase may go without an update
// (its tool refreshes the label every few seconds) before it counts as abandoned.
const RolloutStaleAfter = 30 * time.Second

// RolloutPhases are the phases a rollout may report: the active ones (it has, or
// wants, a process driving it) first, then the ended ones.
var RolloutPhases = append(slices.Clone(activePhases), "promoted", "aborted", "failed")

var activePhases = []string{"deploying", "smoke", "stepping", "paused", "resume", "abort"}

// Active reports whether the rollout is under way (deploying, smoke, stepping, paused,
// or asked to resume or abort): it has, or wants, a process driving it.
func (r *Rollout) Active() bool {
	return r != nil && slices.Contains(activePhases, r.Phase)
}

// MaxRolloutSkew is how far in the future a rollout's updated time may be (another
// machine's clock): beyond it the time is not a clock's but a mistake or a forgery,
// which would make the rollout look fresh for ever and win over every newer one.
const MaxRolloutSkew = time.Minute

// Check reports the first reason a rollout read from outside cannot be shown as it
// is: a phase not in RolloutPhases, or an updated time more than MaxRolloutSkew after
// now. The error is one line naming the field and its value.
func (r *Rollout) Check(now time.Time) error {
	switch {
	case !slices.Contains(RolloutPhases, r.Phase):
		return fmt.Errorf("phase %q: want one of %s", clip(r.Phase), strings.Join(RolloutPhases, ", "))
	case r.Updated.After(now.Add(MaxRolloutSkew)):
		return fmt.Errorf("updated %s: in the future (now %s)", r.Updated.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Abandoned reports whether an active rollout's tool stopped updating it more than
// RolloutStaleAfter before now: nobody watches its canary.
func (r *Rollout) Abandoned(now time.Time) bool {
	return r.Active() && now.Sub(r.Updated) > RolloutStaleAfter
}
