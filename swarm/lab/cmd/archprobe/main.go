// Command archprobe is the lab's own test image: a static HTTP server that answers with
// the architecture it was built for, so a global service shows which variant of a
// multi-arch index each node pulled. `lab check` builds it FROM scratch for every arch.
package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
)

// goarm is the GOARM the binary was built with (recorded in its build info).
func goarm() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOARM" {
				return s.Value
			}
		}
	}
	return ""
}

func main() {
	host, _ := os.Hostname()
	body := fmt.Sprintf("goarch=%s goarm=%s hostname=%s\n", runtime.GOARCH, goarm(), host)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) })
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "archprobe:", err)
		os.Exit(1)
	}
}
