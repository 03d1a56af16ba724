package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// snapshot is the routing table the hot path reads through Proxy.snap. Its colour
// list, weights and SWRR cycle never change after it is published; member health is
// per-member atomic state, and a change of a colour's availability publishes a new
// snapshot (sharing colours and members) with a new cycle.
type snapshot struct {
	colours []*colour          // sorted by name
	byName  map[string]*colour // key: lower-case name
	seq     []uint16           // one SWRR cycle over the available colours
	cycle   []*colour          // seq resolved to colours: the hot path's view
	next    paddedCounter
	specs   []BackendSpec // desired set before DNS expansion (/backends, admin edits)
}

// colour is one weighted backend group (BLUE, GREEN, …).
type colour struct {
	name    string // upper-case, as configured
	header  string // lower-case, the Color header value and cookie value
	weight  int
	members []*Member
	rr      paddedCounter32
}

// Member is one backend address of a colour. Members are reused across snapshots
// (same colour and URL) so that health, ejection and statistics survive weight changes.
// Engines read it through its methods and keep their own per-member state (the nethttp
// engine's ReverseProxies) in its attachment.
type Member struct {
	key    string
	colour string // lower-case colour name
	target *url.URL
	url    string // target.Redacted(), made once: logs and /status read it per request
	origin string // the configured URL it came from (dns+… or tasks.… when expanded)
	// dialAddr is host:port as the transport dials it (default port filled in), the
	// key of the open-connection gauge.
	dialAddr string
	attached atomic.Pointer[attachment]
	// group is the (colour, platform) statistics EndAt adds to, set by buildLocked
	// (the platform may change on the same address); never nil once built.
	group atomic.Pointer[groupStats]

	up    atomic.Bool  // routable: active check passing and not ejected
	fails atomic.Int32 // consecutive passive failures

	mu         sync.Mutex // guards the fields below (cold path: state flips only)
	activeDown bool
	ejected    bool
	ejectTimer *time.Timer
	lastCheck  string // last active check result, for /status
	info       MemberInfo

	stats memberStats
}

// URL is the member's address with credentials redacted: for logs, /status and
// metric labels.
func (m *Member) URL() string { return m.url }

// Target is the member's base URL (scheme, host, optional path and query). Callers
// must not modify it.
func (m *Member) Target() *url.URL { return m.target }

// Colour is the member's colour in lower case: the Color header and cookie value.
func (m *Member) Colour() string { return m.colour }

// DialAddr is host:port as a connection to the member is dialled (the default port
// filled in); UpstreamGauge counts open connections under it.
func (m *Member) DialAddr() string { return m.dialAddr }

// attachment boxes an engine's per-member state.
type attachment struct{ v any }

// Attachment returns what an engine attached to m, nil when nothing yet.
func (m *Member) Attachment() any {
	if a := m.attached.Load(); a != nil {
		return a.v
	}
	return nil
}

// Attach keeps v with m (the core never looks inside) unless something was attached
// already; it returns what m carries afterwards, so that concurrent first requests
// agree on one value.
func (m *Member) Attach(v any) any {
	if m.attached.CompareAndSwap(nil, &attachment{v}) {
		return v
	}
	return m.attached.Load().v
}

// setInfo records where m runs (the provider may learn it after m exists, or the
// node may change its platform, e.g. re-joined). Callers hold p.mu.
func (m *Member) setInfo(info MemberInfo) {
	m.mu.Lock()
	m.info = info
	m.mu.Unlock()
}

// setState recomputes up from activeDown/ejected; callers hold m.mu. It returns
// whether up changed.
func (m *Member) setStateLocked() bool {
	up := !m.activeDown && !m.ejected
	return m.up.Swap(up) != up
}

// normalizeSpecs validates a provider's backend set and returns a sorted copy with
// upper-case names. Errors name the colour and the offending value.
func normalizeSpecs(specs []BackendSpec) ([]BackendSpec, error) {
	if len(specs) > MaxColours {
		return nil, fmt.Errorf("backends: %d colours; at most %d", len(specs), MaxColours)
	}
	out := make([]BackendSpec, 0, len(specs))
	seen := map[string]bool{}
	positive := false
	for _, s := range specs {
		if !colourName.MatchString(s.Name) {
			return nil, fmt.Errorf("backend name %q: %s", s.Name, ColourRule)
		}
		name := strings.ToUpper(s.Name)
		if seen[name] {
			return nil, fmt.Errorf("backend %s: listed twice", name)
		}
		seen[name] = true
		if s.Weight < 0 || s.Weight > MaxWeight {
			return nil, fmt.Errorf("backend %s: weight %d: must be an integer 0-%d", name, s.Weight, MaxWeight)
		}
		positive = positive || s.Weight > 0
		members := make([]*url.URL, 0, len(s.Members))
		var info map[string]MemberInfo
		for _, u := range s.Members {
			if u == nil {
				return nil, fmt.Errorf("backend %s: nil member URL", name)
			}
			v, err := parseBackendURL("backend "+name, u.String(), u.String())
			if err != nil {
				return nil, err
			}
			members = append(members, v)
			if mi, ok := s.Info[u.String()]; ok {
				if mi, err = cleanInfo(name, u.Redacted(), mi); err != nil {
					return nil, err
				}
				if info == nil {
					info = map[string]MemberInfo{}
				}
				// Keyed by the normalised URL: the key buildLocked looks it up by.
				info[v.String()] = mi
			}
		}
		if dup, first := duplicateMember(members); dup != nil {
			return nil, fmt.Errorf("backend %s: member %s listed twice (first as %s)", name, dup.Redacted(), first.Redacted())
		}
		out = append(out, BackendSpec{Name: name, Weight: s.Weight, Members: members, Info: info})
	}
	if len(out) > 0 && !positive {
		return nil, fmt.Errorf("%w (%s)", errAllZero, weightList(out))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// duplicateMember returns the first member of a colour that repeats an earlier one,
// and that earlier one; nil when all differ. Two URLs are the same member when they
// differ only by an empty path against "/" (both join a request's path alike) or by
// the case of the host name (DNS names are case-insensitive). Folded silently, a
// repeat would be one member listed twice, or two members with double the share of
// the colour.
func duplicateMember(members []*url.URL) (dup, first *url.URL) {
	seen := make(map[string]*url.URL, len(members))
	for _, u := range members {
		v := *u
		v.Host = strings.ToLower(v.Host)
		if v.Path == "/" {
			v.Path, v.RawPath = "", ""
		}
		key := v.String()
		if f := seen[key]; f != nil {
			return u, f
		}
		seen[key] = u
	}
	return nil, nil
}

// platformRe is an OCI platform string: os/arch with an optional variant.
var platformRe = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_.-]+(/[a-z0-9_.-]+)?$`)

// maxNodeName bounds a node name kept for /status, the page and logs (a DNS name's limit).
const maxNodeName = 253

// cleanInfo checks a member's info. A platform that is no OCI platform string is an
// error (it becomes a metric label; providers derive it from internal/platform, so a bad
// one is a provider's bug). A node name is only made safe — valid UTF-8, no control
// characters, at most maxNodeName bytes — since it comes from the cluster, where one odd
// host name must not reject the whole backend set.
func cleanInfo(colour, member string, mi MemberInfo) (MemberInfo, error) {
	if mi.Platform != "" && (len(mi.Platform) > 64 || !platformRe.MatchString(mi.Platform)) {
		return mi, fmt.Errorf("backend %s member %s: platform %q: want an OCI platform like linux/arm/v7", colour, member, mi.Platform)
	}
	node := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(strings.TrimSpace(mi.Node), "?"))
	for len(node) > maxNodeName {
		_, size := utf8.DecodeLastRuneInString(node)
		node = node[:len(node)-size]
	}
	mi.Node = node
	return mi, nil
}

// errAllZero marks a backend set that would route nothing; the admin API answers 409.
var errAllZero = errors.New("backends: every weight would be 0; at least one must be > 0")

// buildLocked expands specs (DNS) into a new snapshot, reusing existing members.
// Callers hold p.mu.
func (p *Proxy) buildLocked(specs []BackendSpec) *snapshot {
	s := &snapshot{byName: make(map[string]*colour, len(specs)), specs: specs}
	live := map[string]*Member{}
	for _, spec := range specs {
		c := &colour{name: spec.Name, header: strings.ToLower(spec.Name), weight: spec.Weight}
		for _, origin := range spec.Members {
			info := spec.Info[origin.String()]
			for _, target := range p.dns.expand(origin) {
				key := spec.Name + " " + target.String()
				if live[key] != nil {
					continue
				}
				m := p.members[key]
				if m == nil {
					m = p.newMember(key, c.header, target, origin.Redacted())
				}
				m.setInfo(info)
				m.group.Store(p.groups.get(c.header, info.Platform))
				live[key] = m
				c.members = append(c.members, m)
			}
		}
		s.colours = append(s.colours, c)
		s.byName[c.header] = c
	}
	for key, m := range p.members {
		if live[key] == nil {
			m.mu.Lock()
			if m.ejectTimer != nil {
				m.ejectTimer.Stop()
			}
			m.mu.Unlock()
		}
	}
	p.members = live
	p.pruneGroups(live)
	s.seq = selection(s.colours)
	s.cycle = resolveCycle(s.colours, s.seq)
	return s
}

// pruneGroups keeps the statistics groups within MaxGroups once live, the members of
// the snapshot being built, is known. Groups are only created here, under p.mu, so
// the count read first still holds when prune runs.
func (p *Proxy) pruneGroups(live map[string]*Member) {
	if p.groups.count() <= MaxGroups {
		return
	}
	used := make(map[*groupStats]bool, len(live))
	for _, m := range live {
		used[m.group.Load()] = true
	}
	if n := p.groups.prune(used, MaxGroups); n > 0 {
		p.log.Warn("statistics groups without members dropped: more colour and platform pairs than the limit",
			"dropped", n, "limit", MaxGroups)
	}
}

// selection computes the SWRR cycle over the available colours.
func selection(colours []*colour) []uint16 {
	weights := make([]int, len(colours))
	for i, c := range colours {
		if c.available() {
			weights[i] = c.weight
		}
	}
	return swrrSequence(weights)
}

func resolveCycle(colours []*colour, seq []uint16) []*colour {
	out := make([]*colour, len(seq))
	for i, idx := range seq {
		out[i] = colours[idx]
	}
	return out
}

// reselectLocked publishes a new snapshot with a new cycle if a colour's availability
// changed since the current one was built. Callers hold p.mu.
func (p *Proxy) reselectLocked() {
	cur := p.snap.Load()
	if cur == nil {
		return
	}
	seq := selection(cur.colours)
	if slices.Equal(seq, cur.seq) {
		return
	}
	p.snap.Store(&snapshot{colours: cur.colours, byName: cur.byName, seq: seq,
		cycle: resolveCycle(cur.colours, seq), specs: cur.specs})
}

// memberChanged is called after a member's up state flipped.
func (p *Proxy) memberChanged(m *Member) {
	p.log.Info("backend member state", "color", m.colour, "member", m.URL(), "up", m.up.Load())
	p.mu.Lock()
	p.reselectLocked()
	p.mu.Unlock()
}

// Ready is the readiness condition: at least one backend can take traffic.
func (p *Proxy) Ready() error {
	s := p.snap.Load()
	if s == nil || len(s.seq) == 0 {
		return errors.New("not ready: no healthy backend")
	}
	return nil
}
