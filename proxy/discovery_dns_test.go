package proxy

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// fakeResolver answers from a map that tests change.
type fakeResolver struct {
	mu    sync.Mutex
	hosts map[string][]string
	calls int
}

func (f *fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if a, ok := f.hosts[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host " + host)
}

func (f *fakeResolver) set(host string, addrs ...string) {
	f.mu.Lock()
	f.hosts[host] = addrs
	f.mu.Unlock()
}

func TestDNSDiscoveryExpandsAndRefreshes(t *testing.T) {
	b1, g := newBackend(t, "b1"), newBackend(t, "g")
	port := func(b *backend) string { u, _ := url.Parse("http://" + b.addr); return u.Port() }
	res := &fakeResolver{hosts: map[string][]string{"tasks.myapp-v1": {"127.0.0.1"}}}
	p := newTestProxy(t, Options{Resolver: res},
		BackendSpec{Name: "BLUE", Weight: 4, Members: []*url.URL{mustURL(t, "http://tasks.myapp-v1:"+port(b1))}},
		BackendSpec{Name: "GREEN", Weight: 1, Members: []*url.URL{mustURL(t, "dns+http://green.internal:"+port(g))}},
	)
	s := p.snap.Load()
	if n := len(s.byName["blue"].members); n != 1 {
		t.Fatalf("BLUE members = %d, want 1", n)
	}
	// green.internal does not resolve yet: GREEN has no member, BLUE takes everything.
	if n := len(s.byName["green"].members); n != 0 || len(s.cycle) != 1 {
		t.Fatalf("GREEN members %d, cycle %d", n, len(s.cycle))
	}
	// Scale up to three tasks; members are sorted by address.
	res.set("tasks.myapp-v1", "127.0.0.3", "127.0.0.1", "127.0.0.2")
	res.set("green.internal", "127.0.0.1")
	if !p.RefreshDNS(context.Background()) {
		t.Fatal("RefreshDNS saw no change")
	}
	s = p.snap.Load()
	var got []string
	for _, m := range s.byName["blue"].members {
		got = append(got, m.url())
	}
	want := []string{"http://127.0.0.1:" + port(b1), "http://127.0.0.2:" + port(b1), "http://127.0.0.3:" + port(b1)}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("BLUE members %v, want %v", got, want)
	}
	if m := s.byName["green"].members; len(m) != 1 || m[0].url() != "http://127.0.0.1:"+port(g) || m[0].origin != "dns+http://green.internal:"+port(g) {
		t.Fatalf("GREEN members %v", m)
	}
	// The colour's weight is shared by its members: 4:1 between colours, BLUE's 4
	// spread over 3 members round robin.
	counts := map[string]int{}
	for range 500 {
		m := s.pick()
		counts[m.colour]++
	}
	if counts["blue"] != 400 || counts["green"] != 100 {
		t.Fatalf("split %v", counts)
	}
	// A failing lookup keeps the last answer; an unchanged answer is no change.
	res.mu.Lock()
	delete(res.hosts, "green.internal")
	res.mu.Unlock()
	if p.RefreshDNS(context.Background()) {
		t.Error("a failed lookup must keep the members (no change)")
	}
	if len(p.snap.Load().byName["green"].members) != 1 {
		t.Error("GREEN lost its member on a DNS failure")
	}
	// Scale down to one task: members follow; end to end the request reaches b1.
	res.set("tasks.myapp-v1", "127.0.0.1")
	p.RefreshDNS(context.Background())
	if n := len(p.snap.Load().byName["blue"].members); n != 1 {
		t.Fatalf("after scale-down %d members", n)
	}
	front := httptest.NewServer(p)
	defer front.Close()
	seen := map[string]int{}
	for range 5 {
		_, e, _ := get(t, front.Client(), front.URL+"/", nil)
		seen[e.Backend]++
	}
	if seen["b1"] != 4 || seen["g"] != 1 {
		t.Fatalf("end to end %v", seen)
	}
}

func TestNeedsDNS(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://tasks.myapp-v1:8080": true, "dns+http://app:80": true, "dns+https://app": true,
		"http://myapp-v1:8080": false, "https://example.com": false, "http://mytasks.x:1": false,
	} {
		if got := needsDNS(mustURL(t, raw)); got != want {
			t.Errorf("needsDNS(%s) = %v", raw, got)
		}
	}
}
