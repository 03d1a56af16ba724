package socketrelay

import (
	"net/http"
	"regexp"
	"strings"
)

// rule allows the methods listed on one API path (without the version prefix).
type rule struct {
	path    string
	methods []string
}

// allowList is the whole of what the relay forwards. It is exactly the calls the Swarm
// provider's Docker client makes (proxy/swarmprovider: New, Provider.read, Provider.watch),
// nothing that "might be handy": every entry is read access to the cluster's state, and
// a new one must be justified by a call the provider really makes.
var allowList = []rule{
	// Version negotiation (client.WithAPIVersionNegotiation): the client pings the
	// unversioned /_ping with HEAD and falls back to GET. The answer is "OK" plus headers.
	{"/_ping", []string{http.MethodGet, http.MethodHead}},
	// Provider.read: ServiceList, filtered by the archway.color (and archway.group) labels.
	{"/services", []string{http.MethodGet}},
	// Provider.read: TaskList of those services with desired-state=running.
	{"/tasks", []string{http.MethodGet}},
	// Provider.read: NodeList, for node addresses and readiness.
	{"/nodes", []string{http.MethodGet}},
	// Provider.watch: Events filtered to service and node events; a long-lived stream.
	{"/events", []string{http.MethodGet}},
}

// versionPrefix is the optional API version the Docker client puts before every path
// but /_ping ("/v1.41/services"). Only 1.x versions are accepted: that is every engine
// API there is, and the stricter the shape the less there is to reason about.
var versionPrefix = regexp.MustCompile(`^/v1\.[0-9]{1,3}/`)

// allowed reports whether method on the clean path p is in the allow-list.
func allowed(method, p string) bool {
	if loc := versionPrefix.FindStringIndex(p); loc != nil {
		p = p[loc[1]-1:] // keep the slash: "/v1.41/services" → "/services"
	}
	for _, r := range allowList {
		if r.path != p {
			continue
		}
		for _, m := range r.methods {
			if m == method {
				return true
			}
		}
	}
	return false
}

// AllowList describes the allow-list in one line, as the 403 message and the usage text
// show it: "GET|HEAD /_ping, GET /services, … (each optionally after /v1.NN)".
func AllowList() string {
	parts := make([]string, 0, len(allowList))
	for _, r := range allowList {
		parts = append(parts, strings.Join(r.methods, "|")+" "+r.path)
	}
	return strings.Join(parts, ", ") + " (each optionally after /v1.NN)"
}
