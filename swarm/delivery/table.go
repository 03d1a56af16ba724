package delivery

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printVerdicts is the table a person reads at the end of a step: every scope's
// requests, success rate, p99 and verdict.
func (r *Releaser) printVerdicts(j Judgement, held time.Duration) {
	fmt.Fprintf(r.Out, "    window %.0fs: %s\n", held.Seconds(), strings.ToUpper(string(j.Result)))
	WriteVerdicts(r.Out, j.Verdicts, "    ")
}

// WriteVerdicts prints verdicts as a table, each line prefixed.
func WriteVerdicts(w io.Writer, vs []Verdict, prefix string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%sSCOPE\tREQUESTS\tSUCCESS\tP99\tVERDICT\tDETAIL\n", prefix)
	for _, v := range vs {
		p99 := "-"
		if v.Requests > 0 {
			p99 = ms(v.P99)
		}
		fmt.Fprintf(tw, "%s%s\t%d\t%s\t%s\t%s\t%s\n", prefix, v.Scope, v.Requests, pct(v.Success), p99, v.Result, v.Detail)
	}
	_ = tw.Flush()
}

// WriteState prints a release's state for `status`.
func WriteState(w io.Writer, st State, now time.Time) {
	step := "-"
	if st.Step > 0 && st.Step <= len(st.Plan) {
		step = fmt.Sprintf("%d of %d (%d%%)", st.Step, len(st.Plan), st.Plan[st.Step-1])
	}
	owner := "none"
	if Active(st.Phase) {
		owner = fmt.Sprintf("%s, heartbeat %.0fs ago", st.Owner, now.Sub(st.Updated).Seconds())
		if !st.OwnerAlive(now) {
			owner += " — GONE: `release` with the same image or `resume` continues it, `abort` restores " + st.Stable
		}
	}
	fmt.Fprintf(w, "release  %s\nimage    %s\nphase    %s\nstep     %s   plan %s\nroles    canary %s, stable %s\nowner    %s\nstarted  %s (updated %.0fs ago)\n",
		st.Release, st.Image, st.Phase, step, stepsString(st.Plan), st.Canary, st.Stable, owner,
		st.Started.Format(time.RFC3339), now.Sub(st.Updated).Seconds())
	if len(st.Env) > 0 {
		fmt.Fprintf(w, "env      %s\n", strings.Join(st.Env, " "))
	}
	if st.Reason != "" {
		fmt.Fprintf(w, "reason   %s\n", st.Reason)
	}
	if len(st.Verdicts) > 0 {
		WriteVerdicts(w, verdictsOf(st.Verdicts), "  ")
	}
}
