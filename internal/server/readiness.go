package server

import (
	"net/http"
	"sync/atomic"
)

// Readiness is the /readyz state. The zero value is not ready; Check, when set,
// adds a condition (the proxy: "at least one healthy backend").
type Readiness struct {
	ready atomic.Bool
	// Check, if non-nil, must also return nil for the service to be ready.
	Check func() error
}

// Set marks the service ready or not.
func (r *Readiness) Set(ready bool) { r.ready.Store(ready) }

// Err reports why the service is not ready, or nil.
func (r *Readiness) Err() error {
	if !r.ready.Load() {
		return errNotReady
	}
	if r.Check != nil {
		return r.Check()
	}
	return nil
}

type readinessError string

func (e readinessError) Error() string { return string(e) }

const errNotReady = readinessError("not ready: starting or shutting down")

// Healthz is the liveness handler: the process is up and serving HTTP.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// Readyz returns a handler answering 200 when r is ready and 503 with the reason otherwise.
func (r *Readiness) Readyz() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := r.Err(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(err.Error() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
}
