package app

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/archwayhq/archway/internal/version"
)

// Info is the /api/info document: who answered, built for what, running on what.
type Info struct {
	Hostname string `json:"hostname"`
	Color    string `json:"color"`
	Platform string `json:"platform"`
	GOOS     string `json:"goos"`
	GOARCH   string `json:"goarch"`
	GOARM    string `json:"goarm,omitempty"`
	GO386    string `json:"go386,omitempty"`
	GOAMD64  string `json:"goamd64,omitempty"`
	Variant  string `json:"variant,omitempty"`
	// Machine is `uname -m` as seen by this process.
	Machine        string   `json:"machine"`
	NativeMachines []string `json:"native_machines,omitempty"`
	// Execution is native, compat, emulated or unknown; Emulated is the same as a bool.
	Execution     ExecMode            `json:"execution"`
	Emulated      bool                `json:"emulated"`
	HostCPU       string              `json:"host_cpu,omitempty"`
	ExecutionNote string              `json:"execution_note"`
	Version       string              `json:"version"`
	Commit        string              `json:"commit"`
	GoVersion     string              `json:"go_version"`
	V2            bool                `json:"v2"`
	Headers       map[string][]string `json:"headers"`
	ServedAt      time.Time           `json:"served_at"`
	// Release is ARCHWAY_RELEASE ("" when unset), so a deploying tool can tell which
	// release a task answers with.
	Release string `json:"release"`
	// Faults are the injected faults in force on this platform, omitted when none.
	Faults *FaultInfo `json:"faults,omitempty"`
}

// unknownColor is what sillyproxy's myapp prints without a Color header.
const unknownColor = "unknown"

// colorOf returns the request's Color header as sent (the proxy sets it), or "unknown".
func colorOf(r *http.Request) string {
	if c := strings.TrimSpace(r.Header.Get("Color")); c != "" {
		return c
	}
	return unknownColor
}

// redacted headers carry credentials; a demo page must not echo them to whoever asks.
var redacted = map[string]bool{"Authorization": true, "Cookie": true, "Proxy-Authorization": true}

func (h *handler) info(r *http.Request) Info {
	headers := make(map[string][]string, len(r.Header)+1)
	for k, v := range r.Header {
		if redacted[k] {
			v = []string{"[redacted]"}
		}
		headers[k] = v
	}
	// Go moves Host out of the header map; users of the demo want to see it.
	headers["Host"] = []string{r.Host}
	p := h.platform
	return Info{
		Hostname:       h.hostname,
		Color:          colorOf(r),
		Platform:       p.String(),
		GOOS:           p.OS,
		GOARCH:         p.Arch,
		GOARM:          p.GOARM,
		GO386:          p.GO386,
		GOAMD64:        p.GOAMD64,
		Variant:        p.Variant,
		Machine:        p.Machine,
		NativeMachines: NativeMachines(p.Arch),
		Execution:      p.Exec.Mode,
		Emulated:       p.Exec.Mode == Emulated,
		HostCPU:        p.Exec.HostCPU,
		ExecutionNote:  p.Exec.Note,
		Version:        version.Version,
		Commit:         version.Commit,
		GoVersion:      runtime.Version(),
		V2:             h.v2,
		Headers:        headers,
		ServedAt:       h.now().UTC(),
		Release:        h.release,
		Faults:         h.faults,
	}
}
