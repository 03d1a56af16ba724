package proxy

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// fakeSnapshot builds a snapshot of colours with one always-up member each, without
// a Proxy (pure selection tests).
func fakeSnapshot(weights map[string]int, members int) *snapshot {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	var specs []BackendSpec
	for name, w := range weights {
		s := BackendSpec{Name: name, Weight: w}
		for i := range members {
			s.Members = append(s.Members, &url.URL{Scheme: "http", Host: fmt.Sprintf("%s-%d:80", strings.ToLower(name), i)})
		}
		specs = append(specs, s)
	}
	if err := p.Apply(specs); err != nil {
		panic(err)
	}
	return p.snap.Load()
}

func TestSWRRExactSplit4to1(t *testing.T) {
	s := fakeSnapshot(map[string]int{"BLUE": 4, "GREEN": 1}, 1)
	var seq strings.Builder
	counts := map[string]int{}
	for range 1000 {
		m := s.pick()
		counts[m.colour]++
		seq.WriteByte(m.colour[0])
	}
	if counts["blue"] != 800 || counts["green"] != 200 {
		t.Fatalf("split = %v, want blue 800 green 200", counts)
	}
	str := seq.String()
	// Every window of sum(weights)=5 consecutive picks holds exactly one green.
	for i := 0; i+5 <= len(str); i++ {
		if n := strings.Count(str[i:i+5], "g"); n != 1 {
			t.Fatalf("window %d %q has %d greens, want 1", i, str[i:i+5], n)
		}
	}
	// Interleaved as nginx's SWRR: the cycle is bbgbb, so runs of blue are at most 4
	// (across cycle boundaries) and greens never adjacent.
	if !strings.HasPrefix(str, "bbgbbbbgbb") {
		t.Errorf("sequence starts %q, want nginx SWRR bbgbb bbgbb", str[:10])
	}
	if strings.Contains(str, "bbbbb") || strings.Contains(str, "gg") {
		t.Errorf("bursty sequence: %q", str[:40])
	}
}

func TestSWRRMatchesNginxAndWindows(t *testing.T) {
	cases := []struct {
		weights []int
		want    string // one cycle, letters a.. for indices
	}{
		{[]int{5, 1, 1}, "aabacaa"}, // nginx's documented example {a:5,b:1,c:1}
		{[]int{4, 1}, "aabaa"},
		{[]int{8, 2}, "aabaa"}, // gcd-reduced: same interleaving
		{[]int{1, 1}, "ab"},
		{[]int{0, 3}, "b"},
		{[]int{3, 0, 2}, "acaca"},
	}
	for _, c := range cases {
		seq := swrrSequence(c.weights)
		var got strings.Builder
		for _, i := range seq {
			got.WriteByte(byte('a' + i))
		}
		if got.String() != c.want {
			t.Errorf("swrrSequence(%v) = %q, want %q", c.weights, got.String(), c.want)
		}
	}
	if swrrSequence([]int{0, 0}) != nil {
		t.Error("all-zero weights must give an empty cycle")
	}
	// Property: for arbitrary weights each index occurs exactly weight/gcd times per cycle.
	w := []int{7, 3, 0, 11, 1}
	seq := swrrSequence(w)
	got := make([]int, len(w))
	for _, i := range seq {
		got[i]++
	}
	for i := range w {
		if got[i] != w[i] {
			t.Errorf("index %d: %d picks per cycle, want %d", i, got[i], w[i])
		}
	}
}

func TestWeightZeroDrains(t *testing.T) {
	s := fakeSnapshot(map[string]int{"BLUE": 3, "GREEN": 0, "CANARY": 1}, 2)
	counts := map[string]int{}
	members := map[string]int{}
	for range 400 {
		m := s.pick()
		counts[m.colour]++
		members[m.target.Host]++
	}
	if counts["green"] != 0 || counts["blue"] != 300 || counts["canary"] != 100 {
		t.Fatalf("split = %v, want blue 300, canary 100, green 0", counts)
	}
	// A colour's weight is shared over its members round robin.
	if members["blue-0:80"] != 150 || members["blue-1:80"] != 150 || members["canary-0:80"] != 50 {
		t.Errorf("members = %v, want even sharing inside a colour", members)
	}
}

// A provider's backend set that lists a member twice in one colour is refused as a
// whole, the running set kept: the same rule as the configuration's and the admin API's.
func TestApplyRefusesRepeatedMember(t *testing.T) {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	good := []BackendSpec{{Name: "BLUE", Weight: 1, Members: []*url.URL{{Scheme: "http", Host: "b:80"}}}}
	if err := p.Apply(good); err != nil {
		t.Fatal(err)
	}
	bad := []BackendSpec{{Name: "BLUE", Weight: 1, Members: []*url.URL{{Scheme: "http", Host: "b:80"}, {Scheme: "http", Host: "c:80"}, {Scheme: "http", Host: "b:80", Path: "/"}}}}
	err := p.Apply(bad)
	if want := "backend BLUE: member http://b:80/ listed twice (first as http://b:80)"; err == nil || err.Error() != want {
		t.Fatalf("Apply = %v, want %q", err, want)
	}
	if got := fmt.Sprint(p.Backends()); !strings.Contains(got, "[http://b:80]") || strings.Contains(got, "c:80") {
		t.Errorf("after the refused set: %s, want the running one", got)
	}
	// A host name differing only in case is the same member.
	if err := p.Apply([]BackendSpec{{Name: "BLUE", Weight: 1, Members: []*url.URL{{Scheme: "http", Host: "app.example:80"}, {Scheme: "http", Host: "App.Example:80"}}}}); err == nil || !strings.Contains(err.Error(), "member http://App.Example:80 listed twice (first as http://app.example:80)") {
		t.Errorf("host case: %v", err)
	}
	// Different paths on one host are different members.
	if err := p.Apply([]BackendSpec{{Name: "BLUE", Weight: 1, Members: []*url.URL{{Scheme: "http", Host: "b:80", Path: "/a"}, {Scheme: "http", Host: "b:80", Path: "/b"}}}}); err != nil {
		t.Errorf("two paths: %v", err)
	}
}

func TestUnhealthyColourSkippedSplitKept(t *testing.T) {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	specs := []BackendSpec{
		{Name: "BLUE", Weight: 3, Members: []*url.URL{{Scheme: "http", Host: "b:80"}}},
		{Name: "GREEN", Weight: 1, Members: []*url.URL{{Scheme: "http", Host: "g:80"}}},
		{Name: "CANARY", Weight: 2, Members: []*url.URL{{Scheme: "http", Host: "c1:80"}, {Scheme: "http", Host: "c2:80"}}},
	}
	if err := p.Apply(specs); err != nil {
		t.Fatal(err)
	}
	// GREEN's only member goes down: the cycle is rebuilt over BLUE:CANARY = 3:2.
	g := p.snap.Load().byName["green"].members[0]
	g.mu.Lock()
	g.activeDown = true
	g.setStateLocked()
	g.mu.Unlock()
	p.memberChanged(g)
	// One CANARY member down: CANARY keeps its share on the other member.
	c1 := p.snap.Load().byName["canary"].members[0]
	c1.mu.Lock()
	c1.activeDown = true
	c1.setStateLocked()
	c1.mu.Unlock()
	p.memberChanged(c1)

	s := p.snap.Load()
	counts := map[string]int{}
	for range 500 {
		counts[s.pick().target.Host]++
	}
	if counts["b:80"] != 300 || counts["c2:80"] != 200 || counts["g:80"] != 0 || counts["c1:80"] != 0 {
		t.Fatalf("picks = %v, want b 300, c2 200", counts)
	}
	// Everything down: nil, no hang.
	for _, c := range s.colours {
		for _, m := range c.members {
			m.up.Store(false)
		}
	}
	if m := s.pick(); m != nil {
		t.Fatalf("pick with nothing up = %v", m.key)
	}
}

func BenchmarkPick(b *testing.B) {
	s := fakeSnapshot(map[string]int{"BLUE": 4, "GREEN": 1}, 3)
	b.ReportAllocs()
	for b.Loop() {
		if s.pick() == nil {
			b.Fatal("nil pick")
		}
	}
}

func BenchmarkPickParallel(b *testing.B) {
	s := fakeSnapshot(map[string]int{"BLUE": 4, "GREEN": 1}, 3)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.pick() == nil {
				b.Fatal("nil pick")
			}
		}
	})
}
