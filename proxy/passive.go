package proxy

import "time"

// passiveFailure counts a backend fault (judge: no usable response, the attempt
// deadline, a 502) against m; after
// MaxFails consecutive failures m is ejected for FailTimeout, after which it takes
// traffic again (an active check that fails keeps it out independently).
func (p *Proxy) passiveFailure(m *Member) {
	if p.opts.MaxFails <= 0 {
		return
	}
	if int(m.fails.Add(1)) < p.opts.MaxFails {
		return
	}
	m.mu.Lock()
	if m.ejected {
		m.mu.Unlock()
		return
	}
	m.ejected = true
	m.stats.ejects.Add(1)
	changed := m.setStateLocked()
	m.ejectTimer = time.AfterFunc(p.opts.FailTimeout, func() { p.uneject(m) })
	m.mu.Unlock()
	p.log.Warn("backend member ejected", "color", m.colour, "member", m.URL(),
		"consecutive_failures", m.fails.Load(), "for", p.opts.FailTimeout.String())
	if changed {
		// Off the request path: rebuilding the cycle takes p.mu, which an admin change
		// or a DNS refresh may hold. m.up is already false, so pick skips m meanwhile.
		go p.memberChanged(m)
	}
}

// passiveSuccess resets m's consecutive failures; the load keeps the line clean for
// the common case (no failures) so parallel requests do not contend on a write.
func (p *Proxy) passiveSuccess(m *Member) {
	if m.fails.Load() != 0 {
		m.fails.Store(0)
	}
}

func (p *Proxy) uneject(m *Member) {
	m.mu.Lock()
	m.ejected = false
	m.ejectTimer = nil
	m.fails.Store(0)
	changed := m.setStateLocked()
	m.mu.Unlock()
	p.log.Info("backend member ejection over", "color", m.colour, "member", m.URL())
	if changed {
		p.memberChanged(m)
	}
}
