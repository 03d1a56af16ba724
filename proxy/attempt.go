package proxy

import "time"

// An attempt is one try of a request on one member: Begin when it is sent, End with
// what became of it. Both engines drive requests through these three calls — Begin,
// End (or EndAt), RetryTarget — so statistics, passive health and the retry decision
// are the same whichever engine served the request. A synchronous engine calls them in
// line; an event loop calls Begin when it writes the request and EndAt when the
// response is done, with its own clock.

// Begin opens an attempt on m and returns its start time.
func (p *Proxy) Begin(m *Member) time.Time {
	m.stats.inflight.Add(1)
	return time.Now()
}

// End closes the attempt on m that began at start: judge's verdict on o, recorded in
// m's statistics and passive health (only a backend fault counts against m).
// replayable says whether the request may still go to another member (Replayable,
// and not retried before).
func (p *Proxy) End(m *Member, start time.Time, o Outcome, replayable bool) Verdict {
	return p.EndAt(m, start, time.Now(), o, replayable)
}

// EndAt is End with the caller's clock (an event loop reads it once per turn).
func (p *Proxy) EndAt(m *Member, start, now time.Time, o Outcome, replayable bool) Verdict {
	v := judge(o, replayable)
	d := now.Sub(start)
	bucket := bucketIndex(d)
	m.stats.inflight.Add(-1)
	m.stats.record(v.Status, bucket, d)
	if v.Fault == FaultClient {
		// The client's doing: neither the member's health nor its group's record.
		p.stats.clientFaults.Add(1)
		return v
	}
	if g := m.group.Load(); g != nil {
		g.record(groupClass(o, v), bucket, d)
	}
	if v.Fault == FaultBackend {
		p.passiveFailure(m)
	} else {
		p.passiveSuccess(m)
	}
	return v
}

// groupClass is the class an attempt counts under in its group: failedClass when the
// backend gave no usable response (o.Err: refused, reset, deadline, truncated — the
// 502/504 in v.Status is the proxy's, not the backend's), else the backend's status/100.
func groupClass(o Outcome, v Verdict) int {
	cls := v.Status / 100
	if o.Err != nil || cls < 1 || cls > 5 {
		return failedClass
	}
	return cls
}

// RetryTarget is the member a request that failed on m goes to next: another
// available member, nil when there is none. It does not move the split (pickOther).
func (p *Proxy) RetryTarget(m *Member) *Member {
	var next *Member
	if s := p.snap.Load(); s != nil {
		next = s.pickOther(m)
	}
	if next == nil {
		p.log.Debug("no other member to retry on", "color", m.colour, "member", m.URL())
		return nil
	}
	p.stats.retries.Add(1)
	return next
}
