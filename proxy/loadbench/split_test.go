package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckSplit(t *testing.T) {
	w := map[string]int{"blue": 4, "green": 1}
	if err := checkSplit(map[string]int{"blue": 800, "green": 200}, w, 1000, 0.01); err != nil {
		t.Errorf("exact: %v", err)
	}
	if err := checkSplit(map[string]int{"blue": 805, "green": 195}, w, 1000, 0.01); err != nil {
		t.Errorf("within 1%%: %v", err)
	}
	if err := checkSplit(map[string]int{"blue": 500, "green": 500}, w, 1000, 0.01); err == nil || !strings.Contains(err.Error(), "blue answered 500 of 1000, want 800") {
		t.Errorf("even split accepted: %v", err)
	}
	if err := checkSplit(map[string]int{"blue": 800, "green": 150, "unknown": 50}, w, 1000, 0.1); err == nil {
		t.Error("unexpected colour accepted")
	}
}

func TestSplitCounts(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n++
		c := "blue"
		if n%5 == 0 {
			c = "green"
		}
		w.Header().Set("X-Upstream", map[string]string{"blue": "10.0.0.1:1", "green": "10.0.0.2:1"}[c])
		fmt.Fprintf(w, "%s host linux/amd64\n", c)
	}))
	defer srv.Close()
	got, err := Split(context.Background(), nil, srv.URL, 50, colourFromBody)
	if err != nil || got["blue"] != 40 || got["green"] != 10 {
		t.Errorf("body: %v %v", got, err)
	}
	got, err = Split(context.Background(), nil, srv.URL, 50, colourFromUpstream(map[string]string{"10.0.0.1:1": "blue", "10.0.0.2:1": "green"}))
	if err != nil || got["blue"] != 40 || got["green"] != 10 {
		t.Errorf("upstream: %v %v", got, err)
	}
}

func TestSplitFailsOnErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }))
	defer srv.Close()
	if _, err := Split(context.Background(), nil, srv.URL, 3, colourFromBody); err == nil || !strings.Contains(err.Error(), "status 502") {
		t.Errorf("err = %v", err)
	}
}
