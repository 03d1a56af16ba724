package proxy

import (
	"errors"
	"net/http"
)

// errUpstream502 is returned by the retry flavour's ModifyResponse so that a backend's
// 502 reaches serve before anything was written to the client.
var errUpstream502 = errors.New("backend answered 502 Bad Gateway")

// replayable reports whether r may be sent a second time, to another member: an
// idempotent method and no body. The proxy streams bodies instead of buffering them,
// so a request with a body cannot be replayed and is never retried.
func replayable(r *http.Request) bool {
	if !idempotent(r.Method) {
		return false
	}
	if r.ContentLength != 0 { // > 0: a body; -1: chunked, length unknown
		return false
	}
	// A protocol upgrade (WebSocket) is not a plain request/response exchange.
	return r.Header.Get("Upgrade") == ""
}

// idempotent reports whether a method may be sent twice (RFC 9110 §9.2.2), for both
// engines' retry rule.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}
