// Package app is archway-app, the demo service behind the proxy: it tells who answered
// (colour from the proxy's Color header, hostname), what it was built for (GOOS/GOARCH
// and variant) and what it runs on (uname -m, native or emulated). It keeps the
// output of sillyproxy's myapp: "<color> <hostname>" as text, and with V2 an HTML page
// containing "<h1>hostname (color)</h1>".
package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/archwayhq/archway/internal/server"
)

// Options configure the HTTP handler. Zero values are filled in by NewHandler.
type Options struct {
	// V2 serves the HTML page on GET / instead of the text line.
	V2 bool
	// Hostname is reported as-is; empty means os.Hostname() (resolved by the caller).
	Hostname string
	// Platform is the detected build and run platform (DetectPlatform()).
	Platform Platform
	// Ready backs /readyz; nil means always ready.
	Ready *server.Readiness
	// Now is the clock for served_at; time.Now when nil.
	Now func() time.Time
	// Faults are injected in front of /, /api/info and /ui where their platform limits
	// match Platform; health and readiness are never affected.
	Faults Faults
	// Release is reported as "release" in /api/info.
	Release string
}

type handler struct {
	v2       bool
	hostname string
	platform Platform
	now      func() time.Time
	release  string
	// faults is the /api/info description of the faults in force, nil for none.
	faults *FaultInfo
	// line is the constant tail of the text line, built once: the text endpoint is the
	// proxy benchmark's backend and should not be the bottleneck.
	line string
}

// NewHandler returns the archway-app routes:
//
//	GET /          text line (V2: HTML page; Accept: application/json: Info JSON)
//	GET /api/info  Info JSON
//	GET /ui        the HTML page, regardless of V2
//	GET /healthz   liveness; GET /readyz readiness
//
// The first three carry the injected faults (o.Faults); health and readiness never
// fail or wait: a bad release that passes its health checks is what canary analysis
// must catch, so the faults must not get it ejected or restarted instead.
func NewHandler(o Options) http.Handler {
	h := &handler{v2: o.V2, hostname: o.Hostname, platform: o.Platform, now: o.Now, release: o.Release}
	if h.now == nil {
		h.now = time.Now
	}
	h.line = " " + h.hostname + " " + h.platform.String() + "\n"
	ready := o.Ready
	if ready == nil {
		ready = &server.Readiness{}
		ready.Set(true)
	}
	platform := h.platform.String()
	h.faults = faultInfo(o.Faults, platform)
	f := newFaulter(o.Faults, platform)
	r := mux.NewRouter()
	r.Handle("/", f.wrap(h.root)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/api/info", f.wrap(h.apiInfo)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/ui", f.wrap(h.ui)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/healthz", server.Healthz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", ready.Readyz()).Methods(http.MethodGet, http.MethodHead)
	return r
}

func (h *handler) root(w http.ResponseWriter, r *http.Request) {
	switch {
	case wantsJSON(r.Header.Get("Accept")):
		h.apiInfo(w, r)
	case h.v2:
		h.ui(w, r)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Vary", "Accept")
		_, _ = fmt.Fprint(w, colorOf(r), h.line)
	}
}

func (h *handler) apiInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(h.info(r))
}
