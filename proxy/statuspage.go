package proxy

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The status page (GET /ui on the admin listener) is what a person watches during a
// rollout: colours and weights, members by node and platform, success rate and p99 per
// colour × platform, and the rollout's step and verdicts. It is one self-contained
// document rendered from Status on every request — no script, no external resource,
// a meta refresh every 2 s — so it works in any browser, over an SSH tunnel, and in a
// headless screenshot. html/template escapes every value: node names, labels and the
// rollout come from the cluster and are shown, never interpreted.

//go:embed statuspage.html
var statusPageHTML string

var statusPage = template.Must(template.New("statuspage").Parse(statusPageHTML))

// serveUI renders the status page.
func (p *Proxy) serveUI(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, newPageData(p.Status(), time.Now())); err != nil {
		p.log.Error("status page", "err", err.Error())
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Nothing but the inline style may load or run, and no other site may frame the
	// page (it is behind the admin token).
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

// pageData is Status formatted for the template: every number already a string in the
// unit a person reads, so the template holds no arithmetic.
type pageData struct {
	Hostname, Version, Commit, Now, Uptime, Window string
	Ready                                          bool
	Requests, NoBackend, Retries, ClientFaults     uint64
	Colours                                        []pageColour
	Groups                                         []pageGroup
	Members                                        []pageMember
	Rollout                                        *pageRollout
}

type pageColour struct {
	Name, Color, Share, Role string
	Weight, Up, Members      int
	Available                bool
	Requests                 uint64
}

type pageGroup struct {
	Color, Platform string
	Members         int
	Recent, Total   pageCounts
	// Verdict is the rollout's result for this colour × platform, "" when none.
	Verdict string
}

type pageCounts struct {
	Requests, Errors5xx, Failed uint64
	Success, P99                string
	// Low marks a success rate below 100 %, so a person's eye finds it.
	Low bool
}

type pageMember struct {
	Color, Node, Platform, URL, State, LastCheck, P99 string
	Requests                                          uint64
	InFlight                                          int64
}

type pageRollout struct {
	Abandoned                                                                             bool
	Release, Image, Phase, PhaseClass, Canary, Stable, Reason, Started, Updated, StepText string
	Plan                                                                                  []pageStep
	Verdicts                                                                              []pageVerdict
}

type pageStep struct {
	Percent int
	State   string // done, current, todo
}

type pageVerdict struct {
	Scope, Result, Class, Success, P99, Detail string
	Requests                                   uint64
}

// resultClass is the CSS class of a verdict's result: one of the three the tool
// writes, "" for anything else (the label is the tool's, the class list the page's).
func resultClass(result string) string {
	switch result {
	case "pass", "fail", "inconclusive":
		return result
	}
	return ""
}

func newPageData(st Status, now time.Time) pageData {
	d := pageData{
		Hostname: st.Hostname, Version: st.Version, Commit: st.Commit, Ready: st.Ready,
		Now:      now.UTC().Format("2006-01-02 15:04:05 UTC"),
		Uptime:   ago(time.Duration(st.UptimeSeconds * float64(time.Second))),
		Requests: st.Requests, NoBackend: st.NoBackend, Retries: st.Retries, ClientFaults: st.ClientFaults,
		Window: "—",
	}
	roles := map[string]string{}
	verdicts := map[string]string{}
	if r := st.Rollout; r != nil {
		roles[strings.ToLower(r.Canary)], roles[strings.ToLower(r.Stable)] = "canary", "stable"
		d.Rollout = newPageRollout(r, now)
		for _, v := range r.Verdicts {
			verdicts[v.Scope] = resultClass(v.Result)
		}
	}
	for _, c := range st.Backends {
		pc := pageColour{Name: c.Name, Color: c.Color, Weight: c.Weight, Share: percent(c.Share, 1),
			Available: c.Available, Members: len(c.Members), Requests: c.Requests, Role: roles[c.Color]}
		for _, m := range c.Members {
			if m.Up {
				pc.Up++
			}
			pm := pageMember{Color: c.Color, Node: orDash(m.Node), Platform: orDash(m.Platform), URL: m.URL,
				LastCheck: m.LastCheck, Requests: m.Requests, InFlight: m.InFlight, P99: millis(m.LatencyMS.P99, m.Requests)}
			switch {
			case m.Ejected:
				pm.State = "ejected"
			case !m.ActiveHealthy:
				pm.State = "down"
			default:
				pm.State = "up"
			}
			d.Members = append(d.Members, pm)
		}
		d.Colours = append(d.Colours, pc)
	}
	slices.SortStableFunc(d.Members, func(a, b pageMember) int {
		return strings.Compare(a.Color+"\x00"+a.Node+"\x00"+a.URL, b.Color+"\x00"+b.Node+"\x00"+b.URL)
	})
	if len(st.Groups) > 0 {
		d.Window = ago(time.Duration(st.Groups[0].Recent.WindowSeconds * float64(time.Second)))
	}
	for _, g := range st.Groups {
		d.Groups = append(d.Groups, pageGroup{Color: g.Color, Platform: g.Platform, Members: g.Members,
			Recent: newPageCounts(g.Recent), Total: newPageCounts(g.Total),
			Verdict: verdicts[g.Color+" "+g.Platform]})
	}
	return d
}

func newPageCounts(c GroupCounts) pageCounts {
	pc := pageCounts{Requests: c.Requests, Errors5xx: c.Errors5xx, Failed: c.Failed, Success: "—",
		P99: millis(c.LatencyMS.P99, c.Requests)}
	if c.Requests > 0 {
		pc.Success = percent(c.SuccessRate, 2)
		pc.Low = c.OK < c.Requests
	}
	return pc
}

func newPageRollout(r *Rollout, now time.Time) *pageRollout {
	pr := &pageRollout{Release: r.Release, Image: r.Image, Phase: r.Phase, Canary: r.Canary, Stable: r.Stable,
		Reason: r.Reason, Started: stamp(r.Started, now), Updated: stamp(r.Updated, now), Abandoned: r.Abandoned(now)}
	switch r.Phase {
	case "promoted":
		pr.PhaseClass = "ok"
	case "aborted", "failed":
		pr.PhaseClass = "bad"
	case "paused":
		pr.PhaseClass = "warn"
	default:
		pr.PhaseClass = "busy"
	}
	if pr.Abandoned {
		pr.PhaseClass = "bad"
	}
	switch {
	case r.Step >= 1 && r.Step <= len(r.Plan):
		pr.StepText = fmt.Sprintf("step %d of %d — canary at %d %%", r.Step, len(r.Plan), r.Plan[r.Step-1])
	case len(r.Plan) > 0:
		pr.StepText = fmt.Sprintf("not stepping yet (%d steps planned)", len(r.Plan))
	}
	for i, pct := range r.Plan {
		s := pageStep{Percent: pct, State: "todo"}
		switch {
		case i+1 < r.Step:
			s.State = "done"
		case i+1 == r.Step:
			s.State = "current"
		}
		pr.Plan = append(pr.Plan, s)
	}
	for _, v := range r.Verdicts {
		pr.Verdicts = append(pr.Verdicts, pageVerdict{Scope: v.Scope, Result: v.Result, Class: resultClass(v.Result), Requests: v.Requests,
			Success: percent(v.Success, 2), P99: fmt.Sprintf("%.1f ms", v.P99MS), Detail: v.Detail})
	}
	return pr
}

// percent formats a 0..1 ratio as a percentage with prec decimals.
func percent(r float64, prec int) string { return fmt.Sprintf("%.*f %%", prec, r*100) }

// millis formats a latency in ms, "—" without requests (0 would read as fast).
func millis(ms float64, requests uint64) string {
	if requests == 0 {
		return "—"
	}
	if ms < 10 {
		return fmt.Sprintf("%.2f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// stamp is a time as UTC clock time and its age, "—" when unset.
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05 UTC") + " (" + ago(now.Sub(t)) + " ago)"
}

// ago is a duration as a person reads it: 42 s, 3 min 5 s, 2 h 10 min.
func ago(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
