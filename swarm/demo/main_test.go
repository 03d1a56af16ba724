package main

import (
	"io"
	"testing"
)

func TestParse(t *testing.T) {
	o, err := parse([]string{"-stack", "s1", "canary"}, io.Discard)
	if err != nil || o.cmd != "canary" || o.Group != "s1" || o.weights.String() != "blue=4 green=1" {
		t.Errorf("parse canary = %+v, %v", o, err)
	}
	o, err = parse([]string{"weights", "blue=9,green=1"}, io.Discard)
	if err != nil || o.weights.String() != "blue=9 green=1" {
		t.Errorf("parse weights = %+v, %v", o, err)
	}
	bad := map[string][]string{
		`-n=0: want a positive number of requests`:                                       {"-n", "0"},
		`command "deploi": want run, deploy, show, canary, promote, rollback or weights`: {"deploi"},
		`weights: missing argument, e.g. "weights blue=9,green=1"`:                       {"weights"},
		`weights: green="x": weight must be an integer >= 0`:                             {"weights", "green=x"},
	}
	for want, args := range bad {
		if _, err := parse(args, io.Discard); err == nil || err.Error() != want {
			t.Errorf("parse(%q) error = %v, want %s", args, err, want)
		}
	}
}
