package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resolver resolves a host name to addresses; *net.Resolver implements it and tests
// inject a fake.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// needsDNS reports whether a member URL is a discovery name rather than one address:
// an explicit dns+http(s) scheme, or a host starting with "tasks." — Docker Swarm's
// name that resolves to every task's address of a service (tasks.myapp-v1), whereas
// the plain service name resolves to one virtual IP.
func needsDNS(u *url.URL) bool {
	return strings.HasPrefix(u.Scheme, "dns+") || strings.HasPrefix(strings.ToLower(u.Hostname()), "tasks.")
}

// dnsCache holds the last good resolution of every discovery name.
type dnsCache struct {
	res Resolver
	log *slog.Logger
	mu  sync.Mutex
	ent map[string][]string // host → sorted addresses (last good answer)
}

func newDNSCache(res Resolver, log *slog.Logger) *dnsCache {
	return &dnsCache{res: res, log: log, ent: map[string][]string{}}
}

// lookup resolves host, returning the sorted addresses; errors keep the last answer.
func (d *dnsCache) lookup(ctx context.Context, host string) ([]string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := d.res.LookupHost(ctx, host)
	d.mu.Lock()
	defer d.mu.Unlock()
	old, had := d.ent[host]
	if err != nil || len(addrs) == 0 {
		if err != nil {
			d.log.Warn("dns discovery: lookup failed; keeping the last answer", "host", host, "err", err.Error(), "kept", len(old))
		}
		if !had && err == nil {
			d.ent[host] = nil
		}
		return old, false
	}
	addrs = slices.Clone(addrs)
	sort.Strings(addrs)
	addrs = slices.Compact(addrs)
	d.ent[host] = addrs
	return addrs, !had || !slices.Equal(old, addrs)
}

// expand turns a member URL into concrete targets: itself, or one per resolved address.
func (d *dnsCache) expand(u *url.URL) []*url.URL {
	if !needsDNS(u) {
		return []*url.URL{u}
	}
	host := u.Hostname()
	d.mu.Lock()
	addrs, ok := d.ent[host]
	d.mu.Unlock()
	if !ok {
		addrs, _ = d.lookup(context.Background(), host)
	}
	out := make([]*url.URL, 0, len(addrs))
	for _, a := range addrs {
		t := *u
		t.Scheme = strings.TrimPrefix(u.Scheme, "dns+")
		if p := u.Port(); p != "" {
			t.Host = net.JoinHostPort(a, p)
		} else if strings.Contains(a, ":") {
			t.Host = "[" + a + "]"
		} else {
			t.Host = a
		}
		out = append(out, &t)
	}
	return out
}

// dnsLoop re-resolves every discovery name of the current backends each DNSRefresh and
// rebuilds the snapshot when an answer changed (members come and go with Swarm tasks).
func (p *Proxy) dnsLoop(ctx context.Context) {
	t := time.NewTicker(p.opts.DNSRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.RefreshDNS(ctx)
	}
}

// RefreshDNS re-resolves discovery names now; it reports whether the snapshot changed.
func (p *Proxy) RefreshDNS(ctx context.Context) bool {
	s := p.snap.Load()
	if s == nil {
		return false
	}
	hosts := map[string]bool{}
	for _, spec := range s.specs {
		for _, u := range spec.Members {
			if needsDNS(u) {
				hosts[u.Hostname()] = true
			}
		}
	}
	changed := false
	for h := range hosts {
		if _, c := p.dns.lookup(ctx, h); c {
			changed = true
		}
	}
	if !changed {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.snap.Load()
	p.snap.Store(p.buildLocked(cur.specs))
	p.log.Info("dns discovery: members changed", "backends", memberCounts(p.snap.Load()))
	return true
}

func memberCounts(s *snapshot) string {
	parts := make([]string, len(s.colours))
	for i, c := range s.colours {
		parts[i] = c.name + "=" + strconv.Itoa(len(c.members))
	}
	return strings.Join(parts, " ")
}
