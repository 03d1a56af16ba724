package app

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fault injection exists for demonstrations and tests of canary analysis: a release that
// passes its health checks but fails or slows its real requests is exactly what the
// analysis must catch, so archway-app can be told to be that release.

// Limits of the fault settings.
const (
	// DefaultFailStatus is the status of an injected failure without FAIL_STATUS.
	DefaultFailStatus = 500
	// MaxDelay bounds DELAY: longer than any attempt timeout worth testing, short
	// enough that a typo (DELAY=600s) does not park every request for minutes.
	MaxDelay = 60 * time.Second
	// MaxReleaseLen bounds ARCHWAY_RELEASE, in characters.
	MaxReleaseLen = 64
	// rateScale is the resolution of FAIL_RATE (parts per billion); see faulter.
	rateScale = 1_000_000_000
)

// Faults are the faults injected in front of the app's routes (/, /api/info, /ui); the
// zero value injects none. /healthz and /readyz are never affected.
type Faults struct {
	// FailRate is the share of requests, 0..1 in steps of 1e-9, answered with FailStatus.
	// It is deterministic: request n fails when floor(n·rate) > floor((n−1)·rate), so
	// the first N requests hold exactly floor(N·rate) failures.
	FailRate float64
	// FailStatus is the status of an injected failure, 500..599; 0 means 500.
	FailStatus int
	// FailPlatform limits failures to a binary built for this OCI platform
	// ("linux/arm/v7"); empty means every platform.
	FailPlatform string
	// Delay is added to every request before it is handled, 0..MaxDelay.
	Delay time.Duration
	// DelayPlatform limits Delay as FailPlatform limits failures.
	DelayPlatform string
}

// ParseFaults reads FAIL_RATE, FAIL_STATUS, FAIL_PLATFORM, DELAY and DELAY_PLATFORM
// through getenv. Unset or blank means off. Every error is one line naming the setting
// and its value. FAIL_STATUS and FAIL_PLATFORM without FAIL_RATE, and DELAY_PLATFORM
// without DELAY, are errors: a modifier of nothing is a typo that would otherwise
// silently inject no fault. A present rate or delay of 0 is fine (a fault switched off
// with `docker service update --env-add FAIL_RATE=0` keeps its other settings valid).
func ParseFaults(getenv func(string) string) (Faults, error) {
	var f Faults
	rate := strings.TrimSpace(getenv("FAIL_RATE"))
	status := strings.TrimSpace(getenv("FAIL_STATUS"))
	failPlatform := strings.TrimSpace(getenv("FAIL_PLATFORM"))
	delay := strings.TrimSpace(getenv("DELAY"))
	delayPlatform := strings.TrimSpace(getenv("DELAY_PLATFORM"))
	var err error
	if rate != "" {
		if f.FailRate, err = parseFailRate(rate); err != nil {
			return Faults{}, err
		}
		f.FailStatus = DefaultFailStatus
	}
	if status != "" {
		if rate == "" {
			return Faults{}, fmt.Errorf("FAIL_STATUS=%s: needs FAIL_RATE (it is the status of the injected failures)", quote(status))
		}
		if f.FailStatus, err = parseFailStatus(status); err != nil {
			return Faults{}, err
		}
	}
	if failPlatform != "" {
		if rate == "" {
			return Faults{}, fmt.Errorf("FAIL_PLATFORM=%s: needs FAIL_RATE (it limits where FAIL_RATE applies)", quote(failPlatform))
		}
		if f.FailPlatform, err = parsePlatform("FAIL_PLATFORM", failPlatform); err != nil {
			return Faults{}, err
		}
	}
	if delay != "" {
		if f.Delay, err = parseDelay(delay); err != nil {
			return Faults{}, err
		}
	}
	if delayPlatform != "" {
		if delay == "" {
			return Faults{}, fmt.Errorf("DELAY_PLATFORM=%s: needs DELAY (it limits where DELAY applies)", quote(delayPlatform))
		}
		if f.DelayPlatform, err = parsePlatform("DELAY_PLATFORM", delayPlatform); err != nil {
			return Faults{}, err
		}
	}
	return f, nil
}

func parseFailRate(raw string) (float64, error) {
	r, err := strconv.ParseFloat(raw, 64)
	// ParseFloat accepts "NaN" and "Inf"; NaN also slips through every comparison.
	if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
		return 0, fmt.Errorf("FAIL_RATE=%s: want a number from 0 to 1", quote(raw))
	}
	// Rounded to the resolution the counter applies, so Config shows the rate in force;
	// a rate that rounds to 0 would inject nothing while saying it was set.
	rounded := math.Round(r*rateScale) / rateScale
	if r > 0 && rounded == 0 {
		return 0, fmt.Errorf("FAIL_RATE=%s: below the resolution of 1e-9; want 0 or a rate of at least 1e-9", quote(raw))
	}
	return rounded, nil
}

func parseFailStatus(raw string) (int, error) {
	s, err := strconv.Atoi(raw)
	// Only 5xx: the proxy counts 1xx-4xx as answered, so anything else would not be a
	// fault the analysis sees.
	if err != nil || s < 500 || s > 599 {
		return 0, fmt.Errorf("FAIL_STATUS=%s: want an HTTP status from 500 to 599", quote(raw))
	}
	return s, nil
}

func parseDelay(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 || d > MaxDelay {
		return 0, fmt.Errorf("DELAY=%s: want a duration from 0 to %s such as 200ms", quote(raw), MaxDelay)
	}
	return d, nil
}

// parsePlatform checks an OCI platform os/arch[/variant] of lower-case letters and
// digits and returns it in the form Platform.String() has, where the default variants
// arm64/v8 and amd64/v1 are not written: a limit spelled "linux/arm64/v8" (as some
// tools print it) must not silently match nothing.
func parsePlatform(setting, raw string) (string, error) {
	parts := strings.Split(raw, "/")
	ok := len(parts) == 2 || len(parts) == 3
	for _, p := range parts {
		ok = ok && p != "" && strings.IndexFunc(p, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < '0' || r > '9')
		}) < 0
	}
	if !ok {
		return "", fmt.Errorf("%s=%s: want os/arch[/variant] such as linux/arm/v7", setting, quote(raw))
	}
	if len(parts) == 3 && (parts[1] == "arm64" && parts[2] == "v8" || parts[1] == "amd64" && parts[2] == "v1") {
		parts = parts[:2]
	}
	return strings.Join(parts, "/"), nil
}

// ParseRelease validates ARCHWAY_RELEASE, the release id reported in /api/info. It is
// kept exactly as given (the deploying tool compares it with what it set), so it is
// not trimmed; empty means none.
func ParseRelease(raw string) (string, error) {
	ok := utf8.ValidString(raw) && utf8.RuneCountInString(raw) <= MaxReleaseLen
	// IsPrint rejects control characters and also invisible ones (zero-width spaces,
	// bidi overrides) that would make two releases look alike in a log.
	ok = ok && strings.IndexFunc(raw, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
	if !ok {
		return "", fmt.Errorf("ARCHWAY_RELEASE=%s: want at most %d printable characters", quote(raw), MaxReleaseLen)
	}
	return raw, nil
}

// maxQuoted bounds how much of a bad value an error repeats: an environment variable
// can be megabytes, the error is one line in a log.
const maxQuoted = 80

// quote is %q of raw, cut after maxQuoted bytes with the full length noted.
func quote(raw string) string {
	if len(raw) <= maxQuoted {
		return strconv.Quote(raw)
	}
	return fmt.Sprintf("%q… (%d bytes)", raw[:maxQuoted], len(raw))
}

// status is FailStatus with its default.
func (f Faults) status() int {
	if f.FailStatus == 0 {
		return DefaultFailStatus
	}
	return f.FailStatus
}

// On returns the faults in force for a binary built for platform: a fault limited to
// another platform is switched off (rate or delay 0, its other settings kept).
func (f Faults) On(platform string) Faults {
	if f.FailPlatform != "" && f.FailPlatform != platform {
		f.FailRate = 0
	}
	if f.DelayPlatform != "" && f.DelayPlatform != platform {
		f.Delay = 0
	}
	return f
}

// elsewhere returns the faults that On(platform) switches off: those limited to
// another platform.
func (f Faults) elsewhere(platform string) Faults {
	if f.FailPlatform == "" || f.FailPlatform == platform {
		f.FailRate = 0
	}
	if f.DelayPlatform == "" || f.DelayPlatform == platform {
		f.Delay = 0
	}
	return f
}

// Active reports whether f injects anything.
func (f Faults) Active() bool { return f.FailRate > 0 || f.Delay > 0 }

// String lists the faults f injects in the settings' own terms, e.g.
// "FAIL_RATE=0.3 FAIL_STATUS=503 FAIL_PLATFORM=linux/arm/v7 DELAY=200ms"; "" for none.
func (f Faults) String() string {
	var parts []string
	if f.FailRate > 0 {
		parts = append(parts, "FAIL_RATE="+strconv.FormatFloat(f.FailRate, 'g', -1, 64),
			"FAIL_STATUS="+strconv.Itoa(f.status()))
		if f.FailPlatform != "" {
			parts = append(parts, "FAIL_PLATFORM="+f.FailPlatform)
		}
	}
	if f.Delay > 0 {
		parts = append(parts, "DELAY="+f.Delay.String())
		if f.DelayPlatform != "" {
			parts = append(parts, "DELAY_PLATFORM="+f.DelayPlatform)
		}
	}
	return strings.Join(parts, " ")
}

// faulter injects the faults in force in front of a route. Its counter is shared by
// all the routes it wraps and by concurrent requests.
type faulter struct {
	// perBillion is FailRate in units of 1e-9. The failure test is done in integers
	// because the decimal rates people write are not float64 numbers: 0.29 is stored a
	// little below 29/100, and floor(100·0.29) in float64 is 28, not 29.
	perBillion uint64
	status     int
	// body names the fault, so a failure seen in curl or a proxy log explains itself.
	body  string
	delay time.Duration
	// n counts the requests that reached the failure test.
	n atomic.Uint64
}

// newFaulter returns the faulter for f as it applies to platform, nil when nothing applies.
func newFaulter(f Faults, platform string) *faulter {
	f = f.On(platform)
	if !f.Active() {
		return nil
	}
	return &faulter{
		perBillion: uint64(math.Round(f.FailRate * rateScale)),
		status:     f.status(),
		body:       "injected fault: FAIL_RATE=" + strconv.FormatFloat(f.FailRate, 'g', -1, 64) + " on " + platform + "\n",
		delay:      f.Delay,
	}
}

// wrap puts the faults in front of next; with a nil faulter next is returned as is.
func (f *faulter) wrap(next http.HandlerFunc) http.Handler {
	if f == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.delay > 0 && !sleep(r.Context(), f.delay) {
			// The client is gone: nobody reads an answer. Returning without counting keeps
			// the failure share exact over the requests that are answered.
			return
		}
		if f.fail() {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
			return
		}
		next(w, r)
	})
}

// fail counts a request and reports whether it is one of the failures: request n fails
// when floor(n·rate) > floor((n−1)·rate), so every run of N requests from the start
// holds exactly floor(N·rate) of them, however requests interleave.
func (f *faulter) fail() bool {
	if f.perBillion == 0 {
		return false
	}
	n := f.n.Add(1)
	return f.floorScaled(n) > f.floorScaled(n-1)
}

// floorScaled is floor(n·rate) computed as n·perBillion/1e9 in 128 bits: the 64-bit
// product would overflow after some 18 billion requests.
func (f *faulter) floorScaled(n uint64) uint64 {
	hi, lo := bits.Mul64(n, f.perBillion)
	// perBillion ≤ 1e9, so hi < 1e9 and the quotient fits: Div64 cannot panic.
	q, _ := bits.Div64(hi, lo, rateScale)
	return q
}

// sleep waits for d or until ctx ends (the client closed the connection), whichever is
// first, and reports whether the whole delay passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// FaultInfo is the "faults" member of /api/info: the faults this process injects.
type FaultInfo struct {
	FailRate      float64 `json:"fail_rate,omitempty"`
	FailStatus    int     `json:"fail_status,omitempty"`
	FailPlatform  string  `json:"fail_platform,omitempty"`
	DelayMS       float64 `json:"delay_ms,omitempty"`
	DelayPlatform string  `json:"delay_platform,omitempty"`
	// Summary is Faults.String(), as in the start log line.
	Summary string `json:"summary"`
}

// faultInfo describes the faults in force on platform, nil (omitted) when there are none.
func faultInfo(f Faults, platform string) *FaultInfo {
	f = f.On(platform)
	if !f.Active() {
		return nil
	}
	fi := &FaultInfo{Summary: f.String()}
	if f.FailRate > 0 {
		fi.FailRate, fi.FailStatus, fi.FailPlatform = f.FailRate, f.status(), f.FailPlatform
	}
	if f.Delay > 0 {
		fi.DelayMS, fi.DelayPlatform = float64(f.Delay)/float64(time.Millisecond), f.DelayPlatform
	}
	return fi
}
