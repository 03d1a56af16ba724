package swarmtest

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Result is one poll check's verdict, in the style of gotest.tools' poll.Result: done,
// failed for good, or not yet (with a description of the state seen, reported on timeout).
type Result struct {
	done   bool
	err    error
	status string
}

// Success ends the wait.
func Success() Result { return Result{done: true} }

// Continue keeps waiting; the message says what was seen (it is the timeout report).
func Continue(format string, args ...any) Result {
	return Result{status: fmt.Sprintf(format, args...)}
}

// Error ends the wait with a failure that waiting longer cannot fix.
func Error(err error) Result { return Result{err: err} }

// Check is a condition polled by WaitOn.
type Check func() Result

// WaitOn polls check every delay until it succeeds, fails, or timeout passes; then it fails
// the test saying what it waited for and the last state seen (a check over tasks puts the
// last task error there). It returns how long the wait took.
func WaitOn(t testing.TB, what string, check Check, timeout time.Duration) time.Duration {
	t.Helper()
	took, err := waitOn(what, check, timeout, pollDelay(timeout))
	if err != nil {
		t.Fatal(err)
	}
	return took
}

func pollDelay(timeout time.Duration) time.Duration {
	return min(max(timeout/100, 100*time.Millisecond), time.Second)
}

func waitOn(what string, check Check, timeout, delay time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	last, before := "(not checked yet)", ""
	for {
		r := check()
		switch {
		case r.err != nil:
			return time.Since(start), fmt.Errorf("waiting for %s: %w", what, r.err)
		case r.done:
			return time.Since(start), nil
		}
		if r.status != last {
			// Keep the state before the last change too: when the cluster stops answering,
			// the last state is a connection error and the one before says what was wrong.
			before, last = last, r.status
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %v waiting for %s; last state: %s", timeout, what, last)
			if before != "" && before != "(not checked yet)" {
				msg += "; before that: " + before
			}
			return time.Since(start), errors.New(msg)
		}
		time.Sleep(delay)
	}
}

// Holds checks that check keeps succeeding for d, polling it as WaitOn does, and fails
// the test at the first poll where it does not, with the state seen then: for "stays
// so" claims, which a single look after a sleep would miss a departure from.
func Holds(t testing.TB, what string, check Check, d time.Duration) {
	t.Helper()
	if err := holds(what, check, d, pollDelay(d)); err != nil {
		t.Fatal(err)
	}
}

func holds(what string, check Check, d, delay time.Duration) error {
	start := time.Now()
	for {
		r := check()
		switch {
		case r.err != nil:
			return fmt.Errorf("%s stopped holding after %v: %w", what, time.Since(start).Round(time.Millisecond), r.err)
		case !r.done:
			return fmt.Errorf("%s stopped holding after %v: %s", what, time.Since(start).Round(time.Millisecond), r.status)
		case time.Since(start) >= d:
			return nil
		}
		time.Sleep(delay)
	}
}
