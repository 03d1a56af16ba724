package socketrelay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
)

// maxShown bounds how much of a refused path goes into the answer and the log line: a
// hostile client may send a path as long as the header limit allows.
const maxShown = 256

// Handler forwards the requests the allow-list admits to upstream (the engine; see
// UnixTransport) and answers every other one 403 with a Docker-style JSON error, logging
// one line per refusal on log (nil: slog.Default()).
//
// Responses are streamed as they arrive (FlushInterval -1): /events is a stream that
// never ends on its own, and each event must reach the provider when the engine sends it.
func Handler(upstream http.RoundTripper, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &handler{log: log}
	h.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The path and query go as they came (they passed the filter); only the
			// transport needs a scheme and host, the socket being what it dials.
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "docker"
		},
		Transport:     upstream,
		FlushInterval: -1,
		ErrorHandler:  h.upstreamError,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return h
}

type handler struct {
	proxy *httputil.ReverseProxy
	log   *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason := refusal(r); reason != "" {
		h.refuse(w, r, reason)
		return
	}
	h.proxy.ServeHTTP(w, r)
}

// refuse answers 403 in the engine's own error format, {"message": "..."}: the docker CLI
// and the Go client print the message, so whoever hits the filter reads why.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, reason string) {
	p := shownPath(r)
	h.log.Warn("socket relay refused a request", "method", r.Method, "path", p, "reason", reason)
	writeError(w, http.StatusForbidden,
		"archway socket relay: "+r.Method+" "+p+" is not allowed; allowed: "+AllowList())
}

// upstreamError answers 502 when the engine cannot be reached or breaks off. A client
// that went away (the provider closing an event stream) is not worth a line above debug.
func (h *handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	level := slog.LevelError
	if r.Context().Err() != nil || errors.Is(err, context.Canceled) {
		level = slog.LevelDebug
	}
	h.log.Log(r.Context(), level, "socket relay: engine request failed", "method", r.Method, "path", shownPath(r), "err", err)
	writeError(w, http.StatusBadGateway, "archway socket relay: the engine did not answer: "+err.Error())
}

// shownPath is the path as the client sent it (escapes included), cut to maxShown bytes.
func shownPath(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	p := r.URL.EscapedPath()
	if len(p) > maxShown {
		p = p[:maxShown] + "…"
	}
	return p
}

// writeError writes the engine's error shape. The Content-Type must be exactly
// "application/json": the Go client only decodes the message for that value.
func writeError(w http.ResponseWriter, code int, msg string) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg}) // a struct of one string cannot fail to marshal
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
