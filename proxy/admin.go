package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"github.com/archwayhq/archway/internal/server"
)

// AdminHandler is the admin API, meant for its own listener (-admin-addr):
//
//	GET    /status           per colour/member counts, status classes, latency, health
//	GET    /backends         configured colours and their members
//	GET    /backends/{name}  one colour
//	PUT    /backends/{name}  {"url": "...", "weight": N}; either may be omitted for an
//	                         existing colour; a new colour needs "url" (weight default 1)
//	DELETE /backends/{name}  remove a colour
//	GET    /metrics          Prometheus text format
//	GET    /ui               the status page a person watches (statuspage.go)
//	GET    /healthz          liveness of the admin listener (needs no token)
//
// Every route but /healthz needs Options.AdminAuth's token (GET routes also take the
// read-only token), as a bearer token or as a Basic password (what a browser opening
// /ui sends): 401 with WWW-Authenticate without it, before anything runs. A
// member URL on a link-local address (169.254.0.0/16, fe80::/10: cloud metadata
// services) is refused. Every accepted change is logged in one line: route, colour,
// old and new weight and URLs, client address.
//
// Changes are validated completely before one atomic swap: a bad body (400), an unknown
// colour (404) or a change leaving no weight > 0 (409) changes nothing. Admin changes
// last until the provider next applies a backend set (SIGHUP with the static provider).
func (p *Proxy) AdminHandler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, p.Status()) }).Methods(http.MethodGet)
	r.HandleFunc("/backends", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, p.Backends()) }).Methods(http.MethodGet)
	r.HandleFunc("/backends/{name}", p.getBackend).Methods(http.MethodGet)
	r.HandleFunc("/backends/{name}", p.putBackend).Methods(http.MethodPut)
	r.HandleFunc("/backends/{name}", p.serveDelete).Methods(http.MethodDelete)
	r.HandleFunc("/metrics", p.serveMetrics).Methods(http.MethodGet)
	r.HandleFunc(uiPath, p.serveUI).Methods(http.MethodGet)
	r.HandleFunc("/healthz", server.Healthz).Methods(http.MethodGet)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
	})
	return p.opts.AdminAuth.authorize(p.log, r)
}

// adminErr is an admin API failure with its HTTP status.
type adminErr struct {
	code int
	msg  string
}

func (e *adminErr) Error() string { return e.msg }

func adminError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (p *Proxy) getBackend(w http.ResponseWriter, r *http.Request) {
	name := strings.ToUpper(mux.Vars(r)["name"])
	for _, b := range p.Backends() {
		if b.Name == name {
			writeJSON(w, http.StatusOK, b)
			return
		}
	}
	adminError(w, http.StatusNotFound, fmt.Sprintf("backend %q not found", name))
}

// backendPatch is a parsed PUT body.
type backendPatch struct {
	urls   []*url.URL
	weight *int
}

// parseBackendPatch parses a PUT body; every error names the field and its value.
func parseBackendPatch(body []byte) (backendPatch, error) {
	var patch backendPatch
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		msg := "want a JSON object"
		if err != nil {
			msg = err.Error()
		}
		return patch, fmt.Errorf("body: invalid JSON (%s); want {\"url\": \"http://host:port\", \"weight\": N}", msg)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "url" && k != "weight" {
			return patch, fmt.Errorf("body: unknown field %q; want \"url\" and/or \"weight\"", k)
		}
	}
	if len(raw) == 0 {
		return patch, errors.New(`body: empty object; want "url" and/or "weight"`)
	}
	if v, ok := raw["url"]; ok {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return patch, fmt.Errorf("url=%s: want a string like \"http://host:port\"", v)
		}
		urls, err := parseMemberURLs("url", s)
		if err != nil {
			return patch, err
		}
		if err := refuseLinkLocal("url", s, urls); err != nil {
			return patch, err
		}
		patch.urls = urls
	}
	if v, ok := raw["weight"]; ok {
		txt := string(v)
		if strings.HasPrefix(txt, `"`) {
			return patch, fmt.Errorf("weight=%s: weight must be an integer >= 0", txt)
		}
		n, err := parseWeight("weight", txt)
		if err != nil {
			return patch, err
		}
		patch.weight = &n
	}
	return patch, nil
}

func adminName(r *http.Request) (string, error) {
	name := mux.Vars(r)["name"]
	if !colourName.MatchString(name) {
		return "", &adminErr{http.StatusBadRequest, fmt.Sprintf("name=%q: %s", name, ColourRule)}
	}
	return strings.ToUpper(name), nil
}

// maxAdminBody bounds a PUT's body: a backend change is a URL list and a weight.
const maxAdminBody = 64 << 10

func (p *Proxy) putBackend(w http.ResponseWriter, r *http.Request) {
	name, err := adminName(r)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			err = &adminErr{http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d KiB; want one small JSON object like {\"weight\": 1}", maxAdminBody>>10)}
		}
		if err == nil {
			var patch backendPatch
			if patch, err = parseBackendPatch(body); err != nil {
				err = &adminErr{http.StatusBadRequest, err.Error()}
			} else {
				var old, cur *BackendSpec
				if old, cur, err = p.updateBackend(name, patch.urls, patch.weight); err == nil {
					p.logChange(r, name, old, cur)
				}
			}
		}
	}
	if err != nil {
		p.adminFail(w, err)
		return
	}
	p.getBackend(w, r)
}

func (p *Proxy) serveDelete(w http.ResponseWriter, r *http.Request) {
	name, err := adminName(r)
	if err == nil {
		var old *BackendSpec
		if old, err = p.deleteBackend(name); err == nil {
			p.logChange(r, name, old, nil)
		}
	}
	if err != nil {
		p.adminFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}

func (p *Proxy) adminFail(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	var ae *adminErr
	switch {
	case errors.As(err, &ae):
		code = ae.code
	case errors.Is(err, errAllZero):
		code = http.StatusConflict
	}
	p.log.Warn("admin request refused", "status", code, "err", err.Error())
	adminError(w, code, err.Error())
}

// specsLocked returns a copy of the current backend set, to edit and apply, and the
// index of colour name in it (-1 if absent). The caller holds p.mu, so that admin edits
// are applied one at a time on top of each other.
func (p *Proxy) specsLocked(name string) ([]BackendSpec, int) {
	var specs []BackendSpec
	if s := p.snap.Load(); s != nil {
		specs = slices.Clone(s.specs)
	}
	return specs, slices.IndexFunc(specs, func(b BackendSpec) bool { return b.Name == name })
}

// UpdateBackend sets a colour's URLs and/or weight (nil leaves it), creating the colour
// when urls are given for an unknown name. The whole set is re-validated and swapped once.
func (p *Proxy) UpdateBackend(name string, urls []*url.URL, weight *int) error {
	_, _, err := p.updateBackend(name, urls, weight)
	return err
}

// updateBackend is UpdateBackend returning the colour before (nil: created) and after.
func (p *Proxy) updateBackend(name string, urls []*url.URL, weight *int) (old, cur *BackendSpec, err error) {
	name = strings.ToUpper(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	specs, i := p.specsLocked(name)
	if i < 0 {
		if urls == nil {
			return nil, nil, &adminErr{http.StatusNotFound, fmt.Sprintf("backend %q not found; PUT {\"url\": ...} to create it", name)}
		}
		specs = append(specs, BackendSpec{Name: name, Weight: 1})
		i = len(specs) - 1
	} else {
		o := specs[i]
		old = &o
	}
	if urls != nil {
		specs[i].Members = urls
	}
	if weight != nil {
		specs[i].Weight = *weight
	}
	if err := p.applyLocked(specs); err != nil {
		return nil, nil, err
	}
	return old, &specs[i], nil
}

// DeleteBackend removes a colour; removing the last one that takes traffic is refused.
func (p *Proxy) DeleteBackend(name string) error {
	_, err := p.deleteBackend(name)
	return err
}

// deleteBackend is DeleteBackend returning the colour removed.
func (p *Proxy) deleteBackend(name string) (*BackendSpec, error) {
	name = strings.ToUpper(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	specs, i := p.specsLocked(name)
	if i < 0 {
		return nil, &adminErr{http.StatusNotFound, fmt.Sprintf("backend %q not found", name)}
	}
	old := specs[i]
	specs = slices.Delete(specs, i, i+1)
	if len(specs) == 0 {
		return nil, &adminErr{http.StatusConflict, fmt.Sprintf("backend %q is the last one; refusing to delete it", name)}
	}
	return &old, p.applyLocked(specs)
}

// logChange writes the one line every accepted admin change gets. It names the
// client (the address the request came from, and the proxy in front if any) and
// never the token.
func (p *Proxy) logChange(r *http.Request, name string, old, cur *BackendSpec) {
	p.log.Info("admin change", "route", r.Method+" "+r.URL.Path, "colour", name,
		"old", describeSpec(old), "new", describeSpec(cur), "client", r.RemoteAddr)
}

// describeSpec is a colour as one log value: "weight=4 urls=http://a:1,http://b:1";
// "none" for a colour that did not (or no longer does) exist.
func describeSpec(b *BackendSpec) string {
	if b == nil {
		return "none"
	}
	urls := make([]string, len(b.Members))
	for i, u := range b.Members {
		urls[i] = u.Redacted()
	}
	return fmt.Sprintf("weight=%d urls=%s", b.Weight, strings.Join(urls, ","))
}

// refuseLinkLocal rejects member URLs on link-local addresses given through the admin
// API: 169.254.169.254 and fe80::… are where cloud metadata services (credentials)
// answer, never a backend worth steering live traffic to.
func refuseLinkLocal(setting, raw string, urls []*url.URL) error {
	for _, u := range urls {
		// netip, not net.ParseIP: it reads a zone (fe80::1%eth0), which ParseIP refuses,
		// letting the address through.
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil &&
			(ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
			return fmt.Errorf("%s=%q: %s is a link-local address (cloud metadata services live there); refusing it as a member", setting, raw, ip)
		}
	}
	return nil
}
