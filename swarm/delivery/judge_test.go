package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
)

// fast puts n attempts in the 1–2.5 ms bucket; slow in the 250–500 ms one.
func hist(fast, slow uint64) []uint64 {
	h := make([]uint64, len(proxy.LatencyBounds())+1)
	h[2] = fast // (1ms, 2.5ms]
	h[9] = slow // (250ms, 500ms]
	return h
}

func counts(ok, e5xx, failed uint64) Counts {
	return Counts{Requests: ok + e5xx + failed, OK: ok, Errors5xx: e5xx, Failed: failed, Hist: hist(ok+e5xx+failed, 0)}
}

var platforms = []string{"linux/amd64", "linux/arm/v7"}

func testThresholds() Thresholds {
	return Thresholds{MinRequests: 100, MinPlatformRequests: 40, MinSuccess: 0.99, MaxP99: time.Second, MaxP99Ratio: 2, P99Slack: 5 * time.Millisecond}
}

func window(g map[Key]Counts) Window { return Window{Bounds: proxy.LatencyBounds(), Groups: g} }

func TestJudge(t *testing.T) {
	cases := []struct {
		name   string
		groups map[Key]Counts
		want   Result
		reason string // substring of Judgement.Reason
		edit   func(*Thresholds)
	}{
		{"healthy on every platform", map[Key]Counts{
			{"green", "linux/amd64"}: counts(300, 0, 0), {"green", "linux/arm/v7"}: counts(160, 0, 0),
			{"blue", "linux/amd64"}: counts(3000, 0, 0), {"blue", "linux/arm/v7"}: counts(600, 0, 0),
		}, Pass, "", nil},
		{"too few requests overall is inconclusive", map[Key]Counts{
			{"green", "linux/amd64"}: counts(50, 0, 0), {"green", "linux/arm/v7"}: counts(45, 0, 0),
		}, Inconclusive, "green: 95 of 100 requests", nil},
		{"a platform without canary requests is inconclusive, not passed", map[Key]Counts{
			{"green", "linux/amd64"}: counts(300, 0, 0),
		}, Inconclusive, "green linux/arm/v7: no requests yet", nil},
		{"3% failing on one platform passes colour-wide, fails there", map[Key]Counts{
			{"green", "linux/amd64"}: counts(800, 0, 0), {"green", "linux/arm/v7"}: counts(97, 3, 0),
		}, Fail, "green linux/arm/v7 success 97.0% < 99.0% over 100 requests", nil},
		{"failed attempts (no answer) count like 5xx", map[Key]Counts{
			{"green", "linux/amd64"}: counts(200, 0, 5), {"green", "linux/arm/v7"}: counts(60, 0, 0),
		}, Fail, "green linux/amd64 success 97.6% < 99.0% over 205 requests", nil},
		{"fails early once the minimum sample cannot pass", map[Key]Counts{
			{"green", "linux/amd64"}: counts(7, 3, 0), {"green", "linux/arm/v7"}: counts(7, 3, 0),
		}, Fail, "green success 70.0% < 99.0% over 20 requests (6 bad", nil},
		{"one failure within the allowance waits for more", map[Key]Counts{
			{"green", "linux/amd64"}: counts(9, 1, 0), {"green", "linux/arm/v7"}: counts(10, 0, 0),
		}, Inconclusive, "green: 20 of 100 requests", func(t *Thresholds) { t.MinPlatformRequests = 100 }},
		{"one failure before a small per-platform minimum fails early", map[Key]Counts{
			{"green", "linux/amd64"}: counts(9, 1, 0), {"green", "linux/arm/v7"}: counts(10, 0, 0),
		}, Fail, "green linux/amd64 success 90.0% < 99.0% over 10 requests (1 bad: more than 1.0% of the 40 needed can be)", nil},
		{"slow outright", map[Key]Counts{
			{"green", "linux/amd64"}: {Requests: 300, OK: 300, Hist: hist(0, 300)}, {"green", "linux/arm/v7"}: counts(60, 0, 0),
		}, Fail, "green linux/amd64 p99 497.5ms > 300.0ms over 300 requests", func(t *Thresholds) { t.MaxP99 = 300 * time.Millisecond }},
		{"slower than stable on the same platform", map[Key]Counts{
			{"green", "linux/amd64"}:  counts(300, 0, 0),
			{"green", "linux/arm/v7"}: {Requests: 120, OK: 120, Hist: hist(0, 120)},
			{"blue", "linux/arm/v7"}:  counts(600, 0, 0),
		}, Fail, "green linux/arm/v7 p99 497.5ms > 2.0 × (stable 2.5ms + 5.0ms) over 120 requests", nil},
		{"one slow request among few is not judged yet", map[Key]Counts{
			{"green", "linux/amd64"}:  counts(300, 0, 0),
			{"green", "linux/arm/v7"}: {Requests: 60, OK: 60, Hist: func() []uint64 { h := hist(59, 0); h[9] = 1; return h }()},
			{"blue", "linux/arm/v7"}:  counts(600, 0, 0),
		}, Inconclusive, "green linux/arm/v7: success 100.0%; latency needs 100 requests, 60 so far", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := testThresholds()
			if c.edit != nil {
				c.edit(&th)
			}
			j := Judge(window(c.groups), "green", "blue", platforms, th)
			if j.Result != c.want || !strings.Contains(j.Reason, c.reason) {
				t.Fatalf("got %s %q, want %s containing %q\n%+v", j.Result, j.Reason, c.want, c.reason, j.Verdicts)
			}
			if len(j.Verdicts) != 1+len(platforms) {
				t.Fatalf("%d verdicts, want one per scope (colour + %d platforms)", len(j.Verdicts), len(platforms))
			}
		})
	}
}

func TestWindowSince(t *testing.T) {
	k := Key{"green", "linux/amd64"}
	before := Reading{Host: "p1", Bounds: proxy.LatencyBounds(), Groups: map[Key]Counts{k: counts(100, 1, 0)}}
	after := Reading{Host: "p1", Bounds: proxy.LatencyBounds(), Groups: map[Key]Counts{k: counts(150, 4, 1), {"green", "linux/386"}: counts(5, 0, 0)}}
	w, err := after.Since(before)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Groups[k]; got.Requests != 54 || got.OK != 50 || got.Errors5xx != 3 || got.Failed != 1 || got.Hist[2] != 54 {
		t.Fatalf("window %+v", got)
	}
	if got := w.Colour("green"); got.Requests != 59 {
		t.Fatalf("colour sum %+v", got)
	}
	restarted := after
	restarted.Start = restarted.Start.Add(time.Minute)
	if _, err := restarted.Since(before); err != ErrRestarted {
		t.Fatalf("another proxy process: %v, want ErrRestarted", err)
	}
	backwards := Reading{Host: "p1", Bounds: proxy.LatencyBounds(), Groups: map[Key]Counts{k: counts(10, 0, 0)}}
	if _, err := backwards.Since(before); err == nil {
		t.Fatal("a counter going backwards made a window")
	}
}

func TestPlanValidate(t *testing.T) {
	ok := DefaultPlan()
	if err := ok.Validate(); err != nil {
		t.Fatalf("default plan: %v", err)
	}
	cases := []struct {
		edit func(*Plan)
		want string
	}{
		{func(p *Plan) { p.Steps = []int{5, 25, 50} }, "-steps=5,25,50: the plan ends at 50%: its last step must be 100"},
		{func(p *Plan) { p.Steps = []int{25, 5, 100} }, "step 2 (5%) does not rise above step 1 (25%)"},
		{func(p *Plan) { p.Steps = []int{0, 100} }, "step 1 is 0%: want 1..100"},
		{func(p *Plan) { p.Steps = []int{50, 150} }, "step 2 is 150%"},
		{func(p *Plan) { p.Steps = nil }, "-steps: empty plan"},
		{func(p *Plan) { p.Hold = 0 }, "-hold=0s"},
		{func(p *Plan) { p.Hold = time.Nanosecond }, "-hold=1ns: want a duration from 1s to 24h"},
		{func(p *Plan) { p.MaxWait = time.Second }, "-max-wait=1s: want at least -hold (5m0s)"},
		{func(p *Plan) { p.MinSuccess = 1.5 }, "-min-success=1.5"},
		{func(p *Plan) { p.MinSuccess = 0 }, "-min-success=0"},
		{func(p *Plan) { p.MinPlatformRequests = 500 }, "-min-platform-requests=500: want 1..-min-requests (200)"},
		{func(p *Plan) { p.MaxP99Ratio = 0.5 }, "-max-p99-ratio=0.5"},
		{func(p *Plan) { p.MaxP99 = -time.Second }, "-max-p99=-1s"},
		{func(p *Plan) { p.P99Slack = time.Hour }, "-p99-slack=1h0m0s"},
	}
	for _, c := range cases {
		p := DefaultPlan()
		c.edit(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := ParseSteps("5,x,100"); err == nil || !strings.Contains(err.Error(), `entry "x"`) {
		t.Errorf("ParseSteps: %v", err)
	}
	if s, err := ParseSteps(" 5%, 25 ,100"); err != nil || len(s) != 3 || s[0] != 5 {
		t.Errorf("ParseSteps: %v %v", s, err)
	}
}
