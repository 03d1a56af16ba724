package proxy_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
	"github.com/archwayhq/archway/proxy/nethttp"
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
	b1, g := proxytest.NewBackend(t, "b1"), proxytest.NewBackend(t, "g")
	port := func(b *proxytest.Backend) string { return b.URL().Port() }
	res := &fakeResolver{hosts: map[string][]string{"tasks.myapp-v1": {"127.0.0.1"}}}
	p := proxytest.NewProxy(t, proxy.Options{Resolver: res},
		proxy.BackendSpec{Name: "BLUE", Weight: 4, Members: []*url.URL{proxytest.MustURL(t, "http://tasks.myapp-v1:"+port(b1))}},
		proxy.BackendSpec{Name: "GREEN", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, "dns+http://green.internal:"+port(g))}},
	)
	if n := len(members(p, "blue")); n != 1 {
		t.Fatalf("BLUE members = %d, want 1", n)
	}
	// green.internal does not resolve yet: GREEN has no member, BLUE takes everything.
	if n := len(members(p, "green")); n != 0 || share(p, "blue") != 1 {
		t.Fatalf("GREEN members %d, BLUE share %v", n, share(p, "blue"))
	}
	// Scale up to three tasks; members are sorted by address.
	res.set("tasks.myapp-v1", "127.0.0.3", "127.0.0.1", "127.0.0.2")
	res.set("green.internal", "127.0.0.1")
	if !p.RefreshDNS(context.Background()) {
		t.Fatal("RefreshDNS saw no change")
	}
	var got []string
	for _, m := range members(p, "blue") {
		got = append(got, m.URL)
	}
	want := []string{"http://127.0.0.1:" + port(b1), "http://127.0.0.2:" + port(b1), "http://127.0.0.3:" + port(b1)}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("BLUE members %v, want %v", got, want)
	}
	if m := members(p, "green"); len(m) != 1 || m[0].URL != "http://127.0.0.1:"+port(g) || m[0].Origin != "dns+http://green.internal:"+port(g) {
		t.Fatalf("GREEN members %v", m)
	}
	// The colour's weight is shared by its members: 4:1 between colours.
	if share(p, "blue") != 0.8 || share(p, "green") != 0.2 {
		t.Fatalf("shares blue %v green %v, want 0.8 and 0.2", share(p, "blue"), share(p, "green"))
	}
	// A failing lookup keeps the last answer; an unchanged answer is no change.
	res.mu.Lock()
	delete(res.hosts, "green.internal")
	res.mu.Unlock()
	if p.RefreshDNS(context.Background()) {
		t.Error("a failed lookup must keep the members (no change)")
	}
	if len(members(p, "green")) != 1 {
		t.Error("GREEN lost its member on a DNS failure")
	}
	// Scale down to one task: members follow; end to end the request reaches b1.
	res.set("tasks.myapp-v1", "127.0.0.1")
	p.RefreshDNS(context.Background())
	if n := len(members(p, "blue")); n != 1 {
		t.Fatalf("after scale-down %d members", n)
	}
	front := httptest.NewServer(nethttp.New(p))
	defer front.Close()
	seen := map[string]int{}
	for range 5 {
		_, e, _ := proxytest.Get(t, front.Client(), front.URL+"/", nil)
		seen[e.Backend]++
	}
	if seen["b1"] != 4 || seen["g"] != 1 {
		t.Fatalf("end to end %v", seen)
	}
}

// members is colour's members in /status.
func members(p *proxy.Proxy, colour string) []proxy.MemberStatus {
	for _, c := range p.Status().Backends {
		if c.Color == colour {
			return c.Members
		}
	}
	return nil
}

// share is colour's share of new requests in /status.
func share(p *proxy.Proxy, colour string) float64 {
	for _, c := range p.Status().Backends {
		if c.Color == colour {
			return c.Share
		}
	}
	return 0
}
