package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleRollout() *Rollout {
	t0 := time.Date(2026, 12, 1, 14, 30, 15, 0, time.UTC)
	return &Rollout{
		Release: "r-20261201-143015", Image: "registry.lab:5000/archway-app:v2", Phase: "stepping",
		Step: 2, Plan: []int{5, 25, 50, 100}, Canary: "green", Stable: "blue",
		Started: t0, Updated: t0.Add(95 * time.Second),
		Verdicts: []RolloutVerdict{
			{Scope: "green", Result: "pass", Requests: 2570, Success: 0.9961, P99MS: 12.5},
			{Scope: "green linux/arm/v7", Result: "fail", Requests: 517, Success: 0.968, P99MS: 14.1, Detail: "success 96.8% < 99.0%"},
		},
	}
}

// TestSetRollout: /status shows the rollout last set, as the proxy's own copy; nil
// clears it and "rollout" leaves the JSON.
func TestSetRollout(t *testing.T) {
	p := quietProxy(Options{})
	if st := p.Status(); st.Rollout != nil {
		t.Fatalf("rollout before any: %+v", st.Rollout)
	}
	r := sampleRollout()
	p.SetRollout(r)
	r.Plan[0], r.Verdicts[0].Result, r.Phase = 99, "changed", "changed"
	got := p.Status().Rollout
	if got == nil || got.Plan[0] != 5 || got.Verdicts[0].Result != "pass" || got.Phase != "stepping" {
		t.Fatalf("rollout %+v: want the value as set, not the caller's later changes", got)
	}
	got.Plan[1] = 77
	if p.Rollout().Plan[1] != 25 {
		t.Error("a reader changed the proxy's copy")
	}

	b, err := json.Marshal(p.Status())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rollout map[string]any `json:"rollout"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"release", "image", "phase", "step", "plan", "canary", "stable", "started", "updated", "verdicts"} {
		if _, ok := doc.Rollout[k]; !ok {
			t.Errorf("rollout JSON lacks %q: %s", k, b)
		}
	}
	v := doc.Rollout["verdicts"].([]any)[1].(map[string]any)
	for _, k := range []string{"scope", "result", "requests", "success", "p99_ms", "detail"} {
		if _, ok := v[k]; !ok {
			t.Errorf("verdict JSON lacks %q: %v", k, v)
		}
	}

	p.SetRollout(nil)
	b, _ = json.Marshal(p.Status())
	if strings.Contains(string(b), `"rollout"`) {
		t.Errorf("cleared rollout still in /status: %s", b)
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 150) // 300 bytes
	c := clip(s)
	if !utf8.ValidString(c) || !strings.HasSuffix(c, "…") || len(c) > 200+len("…") || !strings.HasPrefix(s, strings.TrimSuffix(c, "…")) {
		t.Errorf("clip cut %q", c)
	}
	if clip("short") != "short" {
		t.Error("clip changed a short string")
	}
}
