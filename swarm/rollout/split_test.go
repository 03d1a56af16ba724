package rollout

import (
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	if Cycle(map[string]int{"BLUE": 4, "GREEN": 1}) != 5 || Cycle(map[string]int{"BLUE": 0, "GREEN": 5}) != 1 || Cycle(map[string]int{"A": 6, "B": 4}) != 5 {
		t.Error("Cycle")
	}
	w := map[string]int{"BLUE": 4, "GREEN": 1}
	if err := CheckSplit(map[string]int{"BLUE": 800, "GREEN": 200}, w, 0); err != nil {
		t.Error(err)
	}
	// A proxy ignoring weights (round robin) must fail.
	if err := CheckSplit(map[string]int{"BLUE": 500, "GREEN": 500}, w, 8); err == nil {
		t.Error("50/50 accepted for 4:1")
	}
	if err := CheckSplit(map[string]int{"BLUE": 801, "GREEN": 199}, w, 0); err == nil {
		t.Error("off by one accepted with tolerance 0")
	}
	if err := CheckSplit(map[string]int{"BLUE": 804, "GREEN": 196}, w, 4); err != nil {
		t.Errorf("within tolerance rejected: %v", err)
	}
	// A drained colour getting even one request fails whatever the tolerance.
	err := CheckSplit(map[string]int{"BLUE": 1, "GREEN": 999}, map[string]int{"BLUE": 0, "GREEN": 1}, 8)
	if err == nil || !strings.Contains(err.Error(), "BLUE got 1, want 0") {
		t.Errorf("drained colour: %v", err)
	}
	if err := CheckSplit(map[string]int{"RED": 1, "BLUE": 4}, map[string]int{"BLUE": 1}, 8); err == nil {
		t.Error("unknown colour accepted")
	}
}

// TestCheckSplitWholeCycles pins what Measure relies on: a sample that is not whole
// cycles of the weight sum cannot be exact and is refused before counting.
func TestCheckSplitWholeCycles(t *testing.T) {
	w := Weights{"blue": 4, "green": 1}
	if err := checkSplit(map[string]int{"blue": 8, "green": 2}, w, 10); err != nil {
		t.Errorf("exact split rejected: %v", err)
	}
	if err := checkSplit(map[string]int{"blue": 9, "green": 2}, w, 11); err == nil || !strings.Contains(err.Error(), "not whole SWRR cycles") {
		t.Errorf("11 requests over cycles of 5: %v", err)
	}
	if err := checkSplit(map[string]int{"blue": 7, "green": 3}, w, 10); err == nil {
		t.Error("7/3 accepted for 4:1")
	}
	if err := checkSplit(map[string]int{"blue": 8, "green": 1, "red": 1}, w, 10); err == nil {
		t.Error("unknown colour accepted")
	}
}
