package swarmprovider

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy"
)

const goodRelease = `{"release": "r-20261201-143015", "image": "reg/app:v2", "phase": "stepping", "step": 2,
	"plan": [5, 25, 50, 100], "canary": "green", "stable": "blue", "reason": "",
	"started": "2026-12-01T14:30:15Z", "updated": "2026-12-01T14:31:50Z",
	"verdicts": [{"scope": "green linux/arm/v7", "result": "fail", "requests": 517, "success": 0.968, "p99_ms": 14.1}],
	"_tool": {"private": ["state", 1]}}`

// goodNow is a minute after goodRelease's update.
var goodNow = time.Date(2026, 12, 1, 14, 32, 50, 0, time.UTC)

func TestParseRollout(t *testing.T) {
	r, err := parseRollout(goodRelease, goodNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.Release != "r-20261201-143015" || r.Step != 2 || len(r.Plan) != 4 || r.Verdicts[0].Requests != 517 ||
		!r.Updated.Equal(time.Date(2026, 12, 1, 14, 31, 50, 0, time.UTC)) {
		t.Errorf("parsed %+v", r)
	}

	deep := `{"release": "r", "x": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	for _, c := range []struct{ value, want string }{
		{"", "not a JSON object"},
		{"not json", "not a JSON object"},
		{"null", "not a JSON object"},
		{`["release"]`, "not a JSON object"},
		{`"r-1"`, "not a JSON object"},
		{`{"release": 5}`, "json: cannot unmarshal number into Go struct field Rollout.release of type string"},
		{`{"release": "r", "step": "two"}`, "json: cannot unmarshal string into Go struct field Rollout.step of type int"},
		{`{"release": "r", "plan": "5,25"}`, "cannot unmarshal string"},
		{`{"release": "r", "verdicts": {"scope": "green"}}`, "cannot unmarshal object"},
		{`{"release": "r", "started": "yesterday"}`, "parsing time"},
		{`{"release": "r"} {"release": "s"}`, "invalid character"},
		{`{"release": "r"`, "unexpected end of JSON input"},
		{`{"release": "  "}`, `no "release"`},
		{`{"phase": "stepping"}`, `no "release"`},
		{deep, "exceeded max depth"},
		{`{"release": "r", "phase": "steps"}`, `phase "steps": want one of deploying, smoke, stepping, paused, resume, abort, promoted, aborted, failed`},
		{`{"release": "r"}`, `phase "": want one of`},
		{strings.Replace(goodRelease, "2026-12-01T14:31:50Z", "2099-01-01T00:00:00Z", 1), "updated 2099-01-01T00:00:00Z: in the future (now 2026-12-01T14:32:50Z)"},
		{`{"release": "` + strings.Repeat("x", maxReleaseLabel) + `"}`, "65551 bytes; at most 65536"},
	} {
		r, err := parseRollout(c.value, goodNow)
		if err == nil || r != nil {
			t.Errorf("parseRollout(%.40q) = %+v, nil; want an error", c.value, r)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 300 {
			t.Errorf("parseRollout(%.40q): %q; want one short line containing %q", c.value, err, c.want)
		}
	}
}

func TestRolloutPicksNewest(t *testing.T) {
	older := strings.Replace(goodRelease, "r-20261201-143015", "r-old", 1)
	older = strings.Replace(older, "14:31:50Z", "09:00:00Z", 1)
	cl := cluster{services: []swarm.Service{
		svc("b", "app-blue", labels(LabelColor, "blue", LabelWeight, "1", LabelRelease, older)),
		svc("g", "app-green", labels(LabelColor, "green", LabelWeight, "0", LabelRelease, goodRelease)),
		svc("x", "app-bad", labels(LabelColor, "red", LabelWeight, "0", LabelRelease, "{oops")),
		svc("o", "other-group", labels(LabelColor, "red", LabelWeight, "0", LabelGroup, "other", LabelRelease, "{oops")),
	}}
	r, key, bad := Config{Group: ""}.rollout(cl, goodNow)
	if r == nil || r.Release != "r-20261201-143015" || !strings.HasPrefix(key, "app-green ") {
		t.Fatalf("picked %+v (%s); want the newest, r-20261201-143015 from app-green", r, key)
	}
	if len(bad) != 2 {
		t.Errorf("bad labels %v, want app-bad and other-group", bad)
	}
	cl.services[3].Spec.Labels[LabelRelease] = goodRelease
	r, _, bad = Config{Group: "other"}.rollout(cl, goodNow)
	if r == nil || len(bad) != 0 {
		t.Errorf("group other: %+v %v; want only its own service's label", r, bad)
	}
	cl.services[1].Spec.Labels[LabelRelease] = older
	cl.services[3].Spec.Labels[LabelRelease] = older
	if r, key, _ = (Config{}).rollout(cl, goodNow); r.Release != "r-old" || !strings.HasPrefix(key, "app-blue ") {
		t.Errorf("tie: %+v from %s; want the first service by name", r, key)
	}
}

// rolloutRecorder collects OnRollout calls.
type rolloutRecorder struct {
	mu    sync.Mutex
	calls []*proxy.Rollout
}

func (r *rolloutRecorder) set(x *proxy.Rollout) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, x)
}

func (r *rolloutRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *rolloutRecorder) last() *proxy.Rollout {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[len(r.calls)-1]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRunHandsRolloutToTheProxy: OnRollout after the first read and on every change of
// the label (cleared when it goes), never for an unchanged one; a hostile label is one
// warn line however many reads see it, and never stops the backends.
func TestRunHandsRolloutToTheProxy(t *testing.T) {
	api := &fakeAPI{cl: baseCluster(), events: make(chan events.Message, 1)}
	rec := &rolloutRecorder{}
	logs, specs := startProviderWith(t, api, Config{Resync: 10 * time.Millisecond}, rec.set)
	if got := specs.next(t, 2*time.Second); !strings.Contains(got, "GREEN=1") {
		t.Fatalf("first set %s", got)
	}
	waitFor(t, "the first OnRollout", func() bool { return rec.count() == 1 })
	if rec.last() != nil {
		t.Fatalf("OnRollout(%+v) without a label; want nil", rec.last())
	}

	// A live release (updated just now): the guard for abandoned ones stays out of it.
	live := strings.Replace(goodRelease, "2026-12-01T14:31:50Z", time.Now().UTC().Format(time.RFC3339), 1)
	api.edit(func(c *cluster) { c.services[1].Spec.Labels[LabelRelease] = live })
	waitFor(t, "the rollout", func() bool { return rec.count() == 2 })
	if r := rec.last(); r == nil || r.Phase != "stepping" || r.Canary != "green" {
		t.Fatalf("OnRollout(%+v)", r)
	}
	time.Sleep(100 * time.Millisecond) // ~10 resyncs of the same label
	if n := rec.count(); n != 2 {
		t.Fatalf("%d OnRollout calls for an unchanged label, want 2 in all", n)
	}

	hostile := []string{"<script>alert(1)</script>", `{"release": 5}`, strings.Repeat("{", maxReleaseLabel+1)}
	for _, h := range hostile {
		api.edit(func(c *cluster) { c.services[1].Spec.Labels[LabelRelease] = h })
		waitFor(t, "the hostile label to clear the rollout", func() bool { return rec.count() >= 3 && rec.last() == nil })
		time.Sleep(60 * time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{
		`level=WARN msg="service \"app-green\": label archway.release: not a JSON object; ignored"`,
		`level=WARN msg="service \"app-green\": label archway.release: json: cannot unmarshal number into Go struct field Rollout.release of type string; ignored"`,
		`level=WARN msg="service \"app-green\": label archway.release: 65537 bytes; at most 65536; ignored"`,
	} {
		if n := strings.Count(out, want); n != 1 {
			t.Errorf("%d lines %s, want 1; logs:\n%s", n, want, out)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Error("the log repeats the hostile value")
	}
	if n := rec.count(); n != 3 {
		t.Errorf("%d OnRollout calls, want 3 (none, the rollout, cleared by the first bad label)", n)
	}
	// The backends were never affected.
	specs.none(t, 50*time.Millisecond)
}

// TestAbandonedReleaseGetsNoUsers: a release whose tool stopped updating its label mid-step
// (kill -9) has its canary taken out of the split, whatever the weight labels say; a fresh
// update (the release continued) gives the labels back their say.
func TestAbandonedReleaseGetsNoUsers(t *testing.T) {
	api := &fakeAPI{cl: baseCluster(), events: make(chan events.Message, 1)}
	logs, specs := startProviderWith(t, api, Config{Resync: 10 * time.Millisecond}, func(*proxy.Rollout) {})
	if got := specs.next(t, 2*time.Second); !strings.Contains(got, "GREEN=1") {
		t.Fatalf("first set %s", got)
	}
	stale := strings.Replace(goodRelease, "2026-12-01T14:31:50Z", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), 1)
	api.edit(func(c *cluster) { c.services[1].Spec.Labels[LabelRelease] = stale })
	if got := specs.next(t, 2*time.Second); !strings.Contains(got, "GREEN=0") || strings.Contains(got, "BLUE=0") {
		t.Fatalf("abandoned release: backends %s, want green at 0 and blue serving", got)
	}
	if !strings.Contains(logs.String(), `msg="release abandoned: its canary gets no new requests`) {
		t.Errorf("no warn line for the abandoned release:\n%s", logs.String())
	}
	live := strings.Replace(goodRelease, "2026-12-01T14:31:50Z", time.Now().UTC().Format(time.RFC3339), 1)
	api.edit(func(c *cluster) { c.services[1].Spec.Labels[LabelRelease] = live })
	if got := specs.next(t, 2*time.Second); !strings.Contains(got, "GREEN=1") {
		t.Fatalf("release updated again: backends %s, want the labels' weights back", got)
	}
}

func TestGuardAbandoned(t *testing.T) {
	r := &proxy.Rollout{Release: "r1", Phase: "stepping", Canary: "green", Stable: "blue"}
	specs := []proxy.BackendSpec{{Name: "BLUE", Weight: 0}, {Name: "GREEN", Weight: 100}}
	out, ok := guardAbandoned(specs, r, true)
	if !ok || out[0].Weight != 1 || out[1].Weight != 0 || specs[1].Weight != 100 {
		t.Fatalf("canary at 100%%, abandoned: %+v (ok %v); want blue 1, green 0, input untouched", out, ok)
	}
	if _, ok := guardAbandoned(specs, r, false); ok {
		t.Error("a watched release was guarded")
	}
	if _, ok := guardAbandoned([]proxy.BackendSpec{{Name: "GREEN", Weight: 5}}, r, true); ok {
		t.Error("guarded without a stable colour to serve")
	}
	if _, ok := guardAbandoned(specs, &proxy.Rollout{Release: "r1", Phase: "stepping", Canary: "blue", Stable: "blue"}, true); ok {
		t.Error("guarded a rollout naming one colour as both roles")
	}
}
