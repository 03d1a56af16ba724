package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// An attempt is one try of a request on one member: begin when it is sent, end with
// what became of it. Both engines drive requests through these three calls — begin,
// end, retryTarget — so statistics, passive health and the retry decision are the
// same whichever engine served the request.

// errResponseTruncated: the backend's response broke off after its head went out.
var errResponseTruncated = errors.New("backend response truncated")

// begin opens an attempt on m and returns its start time.
func (p *Proxy) begin(m *member) time.Time {
	m.stats.inflight.Add(1)
	return time.Now()
}

// end closes the attempt on m that began at start: judge's verdict on o, recorded in
// m's statistics and passive health (only a backend fault counts against m).
func (p *Proxy) end(m *member, start time.Time, o Outcome, replayable bool) Verdict {
	return p.endAt(m, start, time.Now(), o, replayable)
}

// endAt is end with the caller's clock (an event loop reads it once per turn).
func (p *Proxy) endAt(m *member, start, now time.Time, o Outcome, replayable bool) Verdict {
	v := judge(o, replayable)
	m.stats.inflight.Add(-1)
	m.stats.record(v.Status, now.Sub(start))
	switch v.Fault {
	case FaultBackend:
		p.passiveFailure(m)
	case FaultClient:
		p.stats.clientFaults.Add(1)
	default:
		p.passiveSuccess(m)
	}
	return v
}

// retryTarget is the member a request that failed on m goes to next: another
// available member, nil when there is none. It does not move the split (pickOther).
func (p *Proxy) retryTarget(m *member) *member {
	var next *member
	if s := p.snap.Load(); s != nil {
		next = s.pickOther(m)
	}
	if next == nil {
		p.log.Debug("no other member to retry on", "color", m.colour, "member", m.url())
		return nil
	}
	p.stats.retries.Add(1)
	return next
}

// clientBody watches a request body on its way to the backend: it holds the body to
// MAX_BODY, gives each read BODY_TIMEOUT, and keeps the first failure, so that judge
// can tell a client's broken body from a backend's failure.
type clientBody struct {
	rc      io.ReadCloser
	ctl     *http.ResponseController
	limit   int64 // 0: none
	n       int64
	timeout time.Duration
	err     error
}

// watchBody replaces r.Body with a clientBody.
func (p *Proxy) watchBody(w http.ResponseWriter, r *http.Request) *clientBody {
	b := &clientBody{rc: r.Body, ctl: http.NewResponseController(w), limit: p.opts.MaxBody, timeout: p.opts.BodyTimeout}
	r.Body = b
	return b
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.timeout > 0 {
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	switch {
	case b.limit > 0 && b.n > b.limit:
		b.err = errBodyTooLarge
		return 0, b.err
	case err == io.EOF:
		if b.timeout > 0 {
			// The server's own deadlines govern the connection from here on.
			_ = b.ctl.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.err = errBodyTimeout
		return n, b.err
	case err != nil:
		b.err = errBodyMalformed{err}
		return n, b.err
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }
