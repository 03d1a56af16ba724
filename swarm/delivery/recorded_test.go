package delivery

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
)

// recorded reads a GET /status the lab's proxy answered (trimmed to what judging reads).
func recorded(t *testing.T, file string) Reading {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var st proxy.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	// When each reading was taken is not recorded: place it by its uptime from one
	// start, so that the pair reads as one proxy process (as it was).
	start := time.Date(2026, 12, 1, 15, 31, 0, 0, time.UTC)
	return readingFrom(st, start.Add(time.Duration(st.UptimeSeconds*float64(time.Second))))
}

// TestJudgeRecorded judges a window the lab's proxy recorded: a release of blue with
// FAIL_RATE=0.03 FAIL_PLATFORM=linux/arm/v7 at its first step (10%), against green at 90%.
func TestJudgeRecorded(t *testing.T) {
	w, err := recorded(t, "perarch-after.json").Since(recorded(t, "perarch-before.json"))
	if err != nil {
		t.Fatal(err)
	}
	platforms := []string{"linux/386", "linux/amd64", "linux/arm/v7", "linux/arm64"}
	base := Thresholds{MinRequests: 100, MinPlatformRequests: 60, MinSuccess: 0.99, MaxP99: 5 * time.Second, MaxP99Ratio: 5, P99Slack: 25 * time.Millisecond}

	// The release as it ran: arm/v7's one 5xx in 45 requests already exceeds what 99%
	// allows over the 60 needed, so it fails early; the colour as a whole passes.
	j := Judge(w, "blue", "green", platforms, base)
	if j.Result != Fail || !strings.HasPrefix(j.Reason, "blue linux/arm/v7 success 97.8% < 99.0% over 45 requests") {
		t.Fatalf("recorded per-architecture failure: %s %q", j.Result, j.Reason)
	}
	if v := j.Verdicts[0]; v.Scope != "blue" || v.Result != Pass || v.Requests != 225 {
		t.Errorf("colour-wide verdict %+v: want a pass over 225 requests (the failure is hidden there)", v)
	}

	// With 100 needed per architecture, the one failure is within the allowance: wait.
	patient := base
	patient.MinPlatformRequests = 100
	if j := Judge(w, "blue", "green", platforms, patient); j.Result != Inconclusive || !strings.Contains(j.Reason, "45 of 100 requests") {
		t.Errorf("fewer requests than needed: %s %q, want inconclusive", j.Result, j.Reason)
	}

	// The stable colour over the same window, judged as if it were the canary: 58,547
	// requests without a failure pass everywhere.
	if j := Judge(w, "green", "blue", platforms, base); j.Result != Pass {
		t.Errorf("green over the recorded window: %s %q, want pass", j.Result, j.Reason)
	}

	// A latency bound below what the emulated arm64 node's p99 was (over 11,715
	// requests) fails on latency, naming that architecture.
	tight := base
	tight.MaxP99 = 20 * time.Millisecond
	if j := Judge(w, "green", "blue", platforms, tight); j.Result != Fail || !strings.Contains(j.Reason, "p99") {
		t.Errorf("tight latency bound: %s %q, want a p99 failure", j.Result, j.Reason)
	}
}
