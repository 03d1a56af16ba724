package proxy

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func renderUI(t *testing.T, p *Proxy) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	p.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/ui", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /ui: %d %s", rec.Code, rec.Body)
	}
	return rec, rec.Body.String()
}

// selfContained checks what makes the page one document: a refresh, inline style
// only, no script and nothing loaded from anywhere.
func selfContained(t *testing.T, rec *httptest.ResponseRecorder, page string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if !strings.Contains(page, `<meta http-equiv="refresh" content="2">`) {
		t.Error("no 2 s meta refresh")
	}
	for _, bad := range []*regexp.Regexp{
		// in a tag: escaped text may say anything
		regexp.MustCompile(`(?i)<script`), regexp.MustCompile(`(?i)<link`), regexp.MustCompile(`(?i)<[^>]*\ssrc=`),
		regexp.MustCompile(`(?i)<[^>]*\shref=`), regexp.MustCompile(`(?i)<[^>]*\son[a-z]+=`),
		regexp.MustCompile(`(?i)@import`), regexp.MustCompile(`(?i)url\(`),
	} {
		if loc := bad.FindStringIndex(page); loc != nil {
			t.Errorf("page has %q: …%s…", bad, page[max(0, loc[0]-40):min(len(page), loc[1]+40)])
		}
	}
}

func TestStatusPageWithoutRollout(t *testing.T) {
	p := quietProxy(Options{})
	rec, page := renderUI(t, p)
	selfContained(t, rec, page)
	for _, want := range []string{"No rollout in progress.", "No backends.", "No requests recorded yet.", "No members."} {
		if !strings.Contains(page, want) {
			t.Errorf("empty proxy: page lacks %q", want)
		}
	}

	if err := p.Apply([]BackendSpec{
		infoSpec("BLUE", 4, map[string]MemberInfo{"b:1": amdInfo}, "b:1"),
		infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1"),
	}); err != nil {
		t.Fatal(err)
	}
	for range 9 {
		attempt(t, p, "GREEN", "g:1", Outcome{Status: 200}, 3*time.Millisecond)
	}
	attempt(t, p, "GREEN", "g:1", Outcome{Status: 503}, 3*time.Millisecond)
	g := p.members["GREEN http://g:1"]
	g.mu.Lock()
	g.ejected = true
	g.mu.Unlock()
	rec, page = renderUI(t, p)
	selfContained(t, rec, page)
	for _, want := range []string{
		"No rollout in progress.",
		`<td class="n">4</td><td class="n">80.0 %</td>`,          // blue's weight and share
		`<td class="mono">linux/arm/v7</td><td class="n">1</td>`, // the group and its member
		`<td class="n low">90.00 %</td>`,                         // recent success below 100 %
		"<td>lab-arm-v7</td>",                                    // member by node
		`<span class="badge ejected">ejected</span>`,
		`<span class="badge up">up</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestStatusPageWithRollout(t *testing.T) {
	p := quietProxy(Options{})
	if err := p.Apply([]BackendSpec{
		infoSpec("BLUE", 3, map[string]MemberInfo{"b:1": armInfo}, "b:1"),
		infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1"),
	}); err != nil {
		t.Fatal(err)
	}
	attempt(t, p, "GREEN", "g:1", Outcome{Status: 500}, time.Millisecond)
	r := sampleRollout()
	r.Phase, r.Reason = "aborted", "green linux/arm/v7 success 96.8% < 99.0% over 517 requests at step 2 (25%)"
	p.SetRollout(r)
	rec, page := renderUI(t, p)
	selfContained(t, rec, page)
	for _, want := range []string{
		`<title>aborted r-20261201-143015 · archway-proxy`,
		`<section class="rollout bad">`,
		`<span class="badge bad">aborted</span>`,
		"registry.lab:5000/archway-app:v2",
		"step 2 of 4 — canary at 25 %",
		`<span class="step done">5 %</span>`, `<span class="step current">25 %</span>`, `<span class="step todo">100 %</span>`,
		`<span class="badge canary">green</span> → <span class="badge stable">blue</span>`,
		`<p class="reason">green linux/arm/v7 success 96.8% &lt; 99.0% over 517 requests at step 2 (25%)</p>`,
		`<tr class="fail"><td class="mono">green linux/arm/v7</td><td><span class="badge fail">fail</span></td><td class="n">517</td><td class="n">96.80 %</td><td class="n">14.1 ms</td>`,
		`<tr class="pass"><td class="mono">green</td>`,
		// The group the verdict failed is highlighted in the statistics too.
		`<tr class="fail" data-c="green"><td><span class="sw"></span>green <span class="badge fail">fail</span></td><td class="mono">linux/arm/v7</td>`,
		`<tr class="" data-c="blue">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}

	// Before stepping, and a step beyond the plan, say so instead of indexing it.
	r.Phase, r.Step, r.Updated = "deploying", 0, time.Now()
	p.SetRollout(r)
	if _, page = renderUI(t, p); !strings.Contains(page, "not stepping yet (4 steps planned)") || !strings.Contains(page, `<span class="badge busy">deploying</span>`) {
		t.Error("step 0: no 'not stepping yet'")
	}
	r.Step = 9
	p.SetRollout(r)
	renderUI(t, p)

	// An active release nobody updates any more is shown as abandoned.
	r.Phase, r.Step, r.Updated = "stepping", 2, time.Now().Add(-time.Minute)
	p.SetRollout(r)
	if _, page = renderUI(t, p); !strings.Contains(page, "Abandoned: no update from the release tool") || !strings.Contains(page, `<section class="rollout bad">`) {
		t.Error("an abandoned release is not shown as such")
	}
	if !p.Status().RolloutAbandoned {
		t.Error("/status rollout_abandoned is false for an abandoned release")
	}
}

// TestStatusPageEscapes: every string the page shows from the cluster or the label is
// escaped, and a verdict result is a CSS class only when it is one of the three known.
func TestStatusPageEscapes(t *testing.T) {
	p := quietProxy(Options{})
	x := `<script>alert(1)</script>`
	attr := `x" onmouseover="alert(2)`
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": {Node: x + attr, Platform: "linux/amd64"}}, "g:1")}); err != nil {
		t.Fatal(err)
	}
	p.SetRollout(&Rollout{
		Release: x, Image: attr, Phase: attr, Step: 1, Plan: []int{5}, Canary: x, Stable: attr, Reason: x + attr,
		Verdicts: []RolloutVerdict{{Scope: x, Result: attr, Detail: "</td></tr></table>" + x}, {Scope: "green linux/amd64", Result: "fail badge"}},
	})
	rec, page := renderUI(t, p)
	selfContained(t, rec, page)
	for _, raw := range []string{"<script>", `" onmouseover`, "</td></tr></table><"} {
		if strings.Contains(page, raw) {
			t.Errorf("page holds %q unescaped", raw)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the escaped release is not shown")
	}
	if strings.Contains(page, `class="fail badge"`) || strings.Contains(page, `class="badge fail badge"`) {
		t.Error("an unknown result became a class")
	}
	if !strings.Contains(page, `<tr class=""><td class="mono">&lt;script&gt;`) {
		t.Error("hostile verdict row not shown with an empty class")
	}
}

func TestPageFormats(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "0 s"}, {-time.Second, "0 s"}, {59499 * time.Millisecond, "59 s"}, {185 * time.Second, "3 min 5 s"}, {130 * time.Minute, "2 h 10 min"}} {
		if got := ago(c.d); got != c.want {
			t.Errorf("ago(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if millis(0, 0) != "—" || millis(2.345, 1) != "2.35 ms" || millis(1234.5, 1) != "1234 ms" {
		t.Errorf("millis: %q %q %q", millis(0, 0), millis(2.345, 1), millis(1234.5, 1))
	}
	if percent(0.99612, 2) != "99.61 %" {
		t.Errorf("percent %q", percent(0.99612, 2))
	}
	now := time.Date(2026, 12, 1, 14, 32, 0, 0, time.UTC)
	if got := stamp(now.Add(-95*time.Second), now); got != "14:30:25 UTC (1 min 35 s ago)" {
		t.Errorf("stamp %q", got)
	}
	if stamp(time.Time{}, now) != "—" {
		t.Error("zero time not a dash")
	}
}

// TestStatusPageIdleColour: a colour at weight 0 whose members are up is idle (the next
// release goes there), not "no member up".
func TestStatusPageIdleColour(t *testing.T) {
	p := quietProxy(Options{})
	if err := p.Apply([]BackendSpec{
		infoSpec("BLUE", 0, map[string]MemberInfo{"b:1": armInfo}, "b:1"),
		infoSpec("GREEN", 1, map[string]MemberInfo{"g:1": armInfo}, "g:1"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, page := renderUI(t, p); !strings.Contains(page, `<span class="badge">idle (weight 0)</span>`) || strings.Contains(page, "no member up") {
		t.Error("a weight-0 colour with members up is not shown as idle")
	}
}
