package proxy

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// infoSpec is one colour whose members carry the given info (by host).
func infoSpec(name string, weight int, info map[string]MemberInfo, hosts ...string) BackendSpec {
	s := BackendSpec{Name: name, Weight: weight, Info: map[string]MemberInfo{}}
	for _, h := range hosts {
		u := &url.URL{Scheme: "http", Host: h}
		s.Members = append(s.Members, u)
		if mi, ok := info[h]; ok {
			s.Info[u.String()] = mi
		}
	}
	return s
}

func memberStatus(t *testing.T, p *Proxy, url string) MemberStatus {
	t.Helper()
	for _, c := range p.Status().Backends {
		for _, m := range c.Members {
			if m.URL == url {
				return m
			}
		}
	}
	t.Fatalf("no member %s in /status", url)
	return MemberStatus{}
}

// TestMemberInfo: members carry node and platform into /status; a changed Info on the
// same address updates the member and keeps its statistics; a member without Info is
// unknown.
func TestMemberInfo(t *testing.T) {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	arm := MemberInfo{Node: "lab-arm-v7", Platform: "linux/arm/v7"}
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"a:1": arm}, "a:1", "b:1")}); err != nil {
		t.Fatal(err)
	}
	if m := memberStatus(t, p, "http://a:1"); m.Node != "lab-arm-v7" || m.Platform != "linux/arm/v7" {
		t.Errorf("member a: node %q platform %q", m.Node, m.Platform)
	}
	if m := memberStatus(t, p, "http://b:1"); m.Node != "" || m.Platform != "" {
		t.Errorf("member b without info: node %q platform %q", m.Node, m.Platform)
	}
	a := p.members["GREEN http://a:1"]
	start := p.Begin(a)
	p.End(a, start, Outcome{Status: 200}, true)

	amd := MemberInfo{Node: "lab-amd64", Platform: "linux/amd64"}
	if err := p.Apply([]BackendSpec{infoSpec("GREEN", 1, map[string]MemberInfo{"a:1": amd}, "a:1", "b:1")}); err != nil {
		t.Fatal(err)
	}
	if p.members["GREEN http://a:1"] != a {
		t.Fatal("a changed Info replaced the member; want it kept")
	}
	if m := memberStatus(t, p, "http://a:1"); m.Node != "lab-amd64" || m.Platform != "linux/amd64" || m.Requests != 1 {
		t.Errorf("after the change: node %q platform %q requests %d; want lab-amd64 linux/amd64 1", m.Node, m.Platform, m.Requests)
	}
}

func TestMemberInfoBadInput(t *testing.T) {
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	for _, bad := range []string{"amd64", "Linux/AMD64", "linux/amd64/v1/x", "linux/<b>", strings.Repeat("a", 40) + "/" + strings.Repeat("b", 40)} {
		err := p.Apply([]BackendSpec{infoSpec("BLUE", 1, map[string]MemberInfo{"a:1": {Platform: bad}}, "a:1")})
		if err == nil || !strings.Contains(err.Error(), "backend BLUE member http://a:1: platform") || strings.Contains(err.Error(), "\n") {
			t.Errorf("platform %q: %v; want a one-line error naming colour, member and platform", bad, err)
		}
	}
	// A node name from the cluster is made safe, never a reason to refuse the set.
	hostile := "evil\x1b[31m\nnode\xff" + strings.Repeat("x", 300)
	if err := p.Apply([]BackendSpec{infoSpec("BLUE", 1, map[string]MemberInfo{"a:1": {Node: hostile}}, "a:1")}); err != nil {
		t.Fatal(err)
	}
	n := memberStatus(t, p, "http://a:1").Node
	if len(n) > maxNodeName || !utf8.ValidString(n) || strings.ContainsAny(n, "\x1b\n") || !strings.HasPrefix(n, "evil?[31m?node?xxx") {
		t.Errorf("node name kept as %q", n)
	}
	// Info for an address that is no member is ignored.
	s := infoSpec("BLUE", 1, nil, "a:1")
	s.Info = map[string]MemberInfo{"http://elsewhere:1": {Node: "x", Platform: "linux/amd64"}}
	if err := p.Apply([]BackendSpec{s}); err != nil {
		t.Fatal(err)
	}
	if m := memberStatus(t, p, "http://a:1"); m.Node != "" {
		t.Errorf("stray info applied: %+v", m)
	}
}
