package proxy

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/archwayhq/archway/internal/version"
	"github.com/archwayhq/archway/proxy/tlsterm"
)

// Status is GET /status: wunderproxy's status page grown up — request counts, status
// classes, latency and open connections per colour and member.
type Status struct {
	Version       string  `json:"version"`
	Commit        string  `json:"commit"`
	Hostname      string  `json:"hostname"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	Ready         bool    `json:"ready"`
	Requests      uint64  `json:"requests"`
	NoBackend     uint64  `json:"no_backend_503"`
	Retries       uint64  `json:"retries"`
	// ClientFaults counts requests that failed by the client's doing (a malformed,
	// stalled or oversized body, a client gone): never held against a backend.
	ClientFaults    uint64 `json:"client_faults"`
	OpenConnections int64  `json:"open_connections"`
	// Engine holds the counters the serving engine reports (AddCounter), e.g.
	// epoll_handovers.
	Engine map[string]uint64 `json:"engine,omitempty"`
	// TLS is the certificate the data listener serves (SetCertificates); absent
	// without TLS.
	TLS      *tlsterm.Info  `json:"tls,omitempty"`
	Backends []ColourStatus `json:"backends"`
	// Groups are the statistics per colour and platform (groupstats.go), sorted by
	// colour, then platform; every group seen since start, members or not.
	Groups []GroupStatus `json:"groups"`
	// Rollout is the release in progress as the deploying tool reports it
	// (SetRollout); absent when none.
	Rollout *Rollout `json:"rollout,omitempty"`
	// RolloutAbandoned: the rollout is active but its tool stopped updating it
	// (Rollout.Abandoned); the Swarm provider then gives its canary no new requests.
	RolloutAbandoned bool `json:"rollout_abandoned,omitempty"`
}

// ColourStatus is one colour in /status.
type ColourStatus struct {
	Name      string         `json:"name"`
	Color     string         `json:"color"`
	Weight    int            `json:"weight"`
	Share     float64        `json:"share"` // of new requests right now, 0..1
	Available bool           `json:"available"`
	Requests  uint64         `json:"requests"`
	Members   []MemberStatus `json:"members"`
}

// MemberStatus is one member in /status.
type MemberStatus struct {
	URL                 string            `json:"url"`
	Origin              string            `json:"origin"`
	Node                string            `json:"node"`     // the provider's MemberInfo.Node, "" unknown
	Platform            string            `json:"platform"` // OCI platform of the node, "" unknown
	Up                  bool              `json:"up"`
	ActiveHealthy       bool              `json:"active_healthy"`
	Ejected             bool              `json:"ejected"`
	ConsecutiveFailures int32             `json:"consecutive_failures"`
	Ejections           uint64            `json:"ejections"`
	LastCheck           string            `json:"last_check,omitempty"`
	Requests            uint64            `json:"requests"`
	InFlight            int64             `json:"in_flight"`
	OpenConnections     int64             `json:"open_connections"`
	Codes               map[string]uint64 `json:"codes"`
	LatencyMS           Latency           `json:"latency_ms"`
}

// Latency summarises a member's latency histogram in milliseconds.
type Latency struct {
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// Status returns the current status.
func (p *Proxy) Status() Status {
	st := Status{
		Version: version.Version, Commit: version.Commit, Hostname: p.opts.Hostname,
		UptimeSeconds: time.Since(p.start).Round(time.Millisecond).Seconds(),
		Ready:         p.Ready() == nil, Requests: p.stats.requests.Load(),
		NoBackend: p.stats.noBackend.Load(), Retries: p.stats.retries.Load(), ClientFaults: p.stats.clientFaults.Load(),
		OpenConnections: p.stats.openConns.Load(), Backends: []ColourStatus{}, TLS: p.certInfo(),
		Rollout: p.Rollout(),
	}
	st.RolloutAbandoned = st.Rollout.Abandoned(time.Now())
	for _, c := range p.engineCounters() {
		if st.Engine == nil {
			st.Engine = map[string]uint64{}
		}
		st.Engine[c.Name] = c.Value()
	}
	s := p.snap.Load()
	st.Groups = p.groupStatuses(s, time.Now())
	if s == nil {
		return st
	}
	counts := make([]int, len(s.colours))
	for _, i := range s.seq {
		counts[i]++
	}
	open := p.upstreamOpen()
	for i, c := range s.colours {
		cs := ColourStatus{Name: c.name, Color: c.header, Weight: c.weight, Available: c.available(), Members: []MemberStatus{}}
		if len(s.seq) > 0 {
			cs.Share = float64(counts[i]) / float64(len(s.seq))
		}
		for _, m := range c.members {
			m.mu.Lock()
			ms := MemberStatus{
				URL: m.URL(), Origin: m.origin, Node: m.info.Node, Platform: m.info.Platform,
				Up: m.up.Load(), ActiveHealthy: !m.activeDown, Ejected: m.ejected, LastCheck: m.lastCheck,
			}
			m.mu.Unlock()
			ms.ConsecutiveFailures = m.fails.Load()
			ms.Ejections = m.stats.ejects.Load()
			ms.Requests = m.stats.requests.Load()
			ms.InFlight = m.stats.inflight.Load()
			ms.OpenConnections = open[m.dialAddr]
			ms.Codes = map[string]uint64{}
			for cls := range m.stats.classes {
				if v := m.stats.classes[cls].Load(); v > 0 {
					ms.Codes[classLabel(cls)] = v
				}
			}
			if ms.Requests > 0 {
				ms.LatencyMS = Latency{
					Avg: roundMS(float64(m.stats.sumNanos.Load()) / 1e9 / float64(ms.Requests)),
					P50: roundMS(m.stats.quantile(0.5)),
					P99: roundMS(m.stats.quantile(0.99)),
				}
			}
			cs.Requests += ms.Requests
			cs.Members = append(cs.Members, ms)
		}
		st.Backends = append(st.Backends, cs)
	}
	return st
}

// BackendView is one colour in GET /backends: its configuration and current members.
type BackendView struct {
	Name    string   `json:"name"`
	Color   string   `json:"color"`
	Weight  int      `json:"weight"`
	URLs    []string `json:"urls"`
	Members []string `json:"members"`
}

// Backends returns the configured colours with their expanded members.
func (p *Proxy) Backends() []BackendView {
	out := []BackendView{}
	s := p.snap.Load()
	if s == nil {
		return out
	}
	for i, spec := range s.specs {
		v := BackendView{Name: spec.Name, Color: s.colours[i].header, Weight: spec.Weight, URLs: []string{}, Members: []string{}}
		for _, u := range spec.Members {
			v.URLs = append(v.URLs, u.Redacted())
		}
		for _, m := range s.colours[i].members {
			v.Members = append(v.Members, m.URL())
		}
		out = append(out, v)
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
