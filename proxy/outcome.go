package proxy

import (
	"context"
	"errors"
	"net/http"
)

// Every engine reports what happened to an attempt as an Outcome, and judge alone
// decides what it means: whose fault it was, whether it counts against the member,
// whether the request goes to another member, and what the client is answered. A rule
// that lived in each engine drifted (a client's broken chunked body was counted as the
// backend's failure and ejected it); here it exists once.

// Fault says whose fault a failed attempt was.
type Fault uint8

const (
	// FaultNone: the backend answered (any status but 502).
	FaultNone Fault = iota
	// FaultBackend: the backend could not be reached or gave no usable response —
	// connect refused or reset, the attempt deadline, a malformed or truncated response,
	// or a 502 of its own. Only these count towards passive ejection, and only these
	// are retried.
	FaultBackend
	// FaultClient: the client broke the exchange — a malformed, truncated, too slow or
	// too large request body, or it went away. Never held against a backend.
	FaultClient
)

// String names the fault in logs and /status.
func (f Fault) String() string {
	switch f {
	case FaultBackend:
		return "backend"
	case FaultClient:
		return "client"
	}
	return "none"
}

// Backend faults an engine reports in Outcome.Err (besides the transport's own errors).
var (
	// ErrResponseTruncated: the backend's response broke off after its head went out.
	ErrResponseTruncated = errors.New("backend response truncated")
	// ErrAttemptTimeout: no response head within ATTEMPT_TIMEOUT.
	ErrAttemptTimeout = errors.New("backend gave no response head within the attempt deadline")
)

// Client faults an engine reports in Outcome.Client.
var (
	// ErrClientGone: the client closed the connection or cancelled the request.
	ErrClientGone = errors.New("client went away")
	// ErrBodyTooLarge: the request body is larger than MAX_BODY.
	ErrBodyTooLarge = errors.New("request body larger than allowed")
	// ErrBodyTimeout: the client sent nothing of its body for BODY_TIMEOUT.
	ErrBodyTimeout = errors.New("request body stalled")
)

// BodyMalformedError wraps what a client's body reader reported (a bad chunk size, a
// body shorter than its Content-Length, ...): the client's fault, answered 400.
type BodyMalformedError struct{ Err error }

func (e BodyMalformedError) Error() string { return "malformed request body: " + e.Err.Error() }
func (e BodyMalformedError) Unwrap() error { return e.Err }

// Outcome is what an engine observed of one attempt on a member.
type Outcome struct {
	// Status is the status of the backend's response head, 0 when none arrived.
	Status int
	// Err is why the backend side failed (dial, write, read, framing, deadline); nil
	// when the response arrived whole or the client side failed first.
	Err error
	// Client is why the client side failed, nil when it did not. It wins over Err: a
	// backend that saw a broken body and hung up did nothing wrong.
	Client error
	// Sent reports that some of the response already reached the client: nothing can
	// be retried or answered in its place any more.
	Sent bool
}

// Verdict is judge's decision on an Outcome.
type Verdict struct {
	Fault Fault
	// Status is what the member's statistics record: the backend's status, 502/504 for
	// a backend fault without one, 499 for a client that went away, the proxy's 4xx
	// for another client fault.
	Status int
	// Retry: send the request once more, to another member.
	Retry bool
	// Answer is the status the proxy answers the client with itself (0: none — the
	// backend's response stands, or there is nobody to answer, or Retry), and Message
	// its body; when a retry finds no other member, the client gets Status and Message.
	Answer  int
	Message string
}

// judge classifies one attempt. replayable says whether the request may go to another
// member (an idempotent method, no body, not retried before: see Replayable).
func judge(o Outcome, replayable bool) Verdict {
	if o.Client != nil {
		v := Verdict{Fault: FaultClient}
		v.Status, v.Message = clientAnswer(o.Client)
		if v.Status != statusClientGone && !o.Sent {
			v.Answer = v.Status
		}
		return v
	}
	if o.Err != nil {
		v := Verdict{Fault: FaultBackend}
		v.Status, v.Message = GatewayAnswer(o.Err)
		v.Retry = replayable && !o.Sent
		if !v.Retry && !o.Sent {
			v.Answer = v.Status
		}
		return v
	}
	if o.Status == http.StatusBadGateway {
		// The backend's own 502 (a broken dependency behind it): its answer stands
		// unless another member can serve the request.
		_, msg := GatewayAnswer(nil)
		return Verdict{Fault: FaultBackend, Status: o.Status, Retry: replayable && !o.Sent, Message: msg}
	}
	return Verdict{Fault: FaultNone, Status: o.Status}
}

// statusClientGone is nginx's 499, recorded for a client that went away.
const statusClientGone = 499

// clientAnswer is the status and body for a client fault.
func clientAnswer(err error) (int, string) {
	var bm BodyMalformedError
	switch {
	case errors.Is(err, ErrClientGone), errors.Is(err, context.Canceled):
		return statusClientGone, ""
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, "archway-proxy: request body too large\n"
	case errors.Is(err, ErrBodyTimeout):
		return http.StatusRequestTimeout, "archway-proxy: request body timed out\n"
	case errors.As(err, &bm):
		return http.StatusBadRequest, "archway-proxy: malformed request body\n"
	}
	return http.StatusBadRequest, "archway-proxy: bad request\n"
}

// GatewayAnswer is the status and body for a backend fault without a response: 504
// when it timed out, else 502. Engines answer it when a retry finds no other member.
func GatewayAnswer(err error) (int, string) {
	var te interface{ Timeout() bool }
	if errors.Is(err, ErrAttemptTimeout) || errors.As(err, &te) && te.Timeout() {
		return http.StatusGatewayTimeout, "archway-proxy: backend timed out\n"
	}
	return http.StatusBadGateway, "archway-proxy: backend unavailable\n"
}
