package app

import (
	"fmt"
	"math"
	"strconv"
	"strings"
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
	// Rounded to the resolution the counter applies, so Config shows the rate in force.
	return math.Round(r*rateScale) / rateScale, nil
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
