package app

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The page is one self-contained document (CSS inlined, favicon as a data URI):
// behind the weighted proxy every request may land on another colour, so a page that
// fetched its stylesheet separately could mix v1 and v2 assets.
//
//go:embed web/page.html.tmpl web/style.css
var webFS embed.FS

// The stylesheet is parsed as a template of its own and included in <style>: literal
// template text is trusted, so it needs no template.CSS conversion.
var pageTmpl = template.Must(template.New("page.html.tmpl").ParseFS(webFS, "web/page.html.tmpl", "web/style.css"))

// themes maps a colour name (lower-cased Color header) to a CSS class. The header is
// client-controlled, so only these names ever reach the stylesheet.
var themes = map[string]string{
	"blue": "blue", "green": "green", "red": "red", "yellow": "yellow",
	"canary": "yellow", "orange": "orange", "purple": "purple",
}

// archNames are the friendly names under the architecture badge.
var archNames = map[string]string{
	"amd64": "x86-64", "386": "x86 (32-bit)", "arm64": "64-bit ARM · AArch64",
	"arm": "32-bit ARM", "ppc64le": "IBM POWER · little-endian", "ppc64": "IBM POWER",
	"s390x": "IBM Z · s390x", "riscv64": "RISC-V 64", "loong64": "LoongArch 64",
	"mips64le": "MIPS64 · little-endian",
}

type pageData struct {
	Hostname    string
	Color       string
	Theme       string
	Badge       string
	OS          string
	Arch        string
	Variant     string
	ArchName    string
	Platform    string
	Machine     string
	Exec        Execution
	Version     string
	Commit      string
	GoVersion   string
	V2          bool
	ServedAt    string
	Refresh     int
	RefreshOpts []int
}

// maxRefresh bounds ?refresh=: an hour is already longer than any demo.
const maxRefresh = 3600

func (h *handler) ui(w http.ResponseWriter, r *http.Request) {
	refresh := 0
	if raw := r.URL.Query().Get("refresh"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > maxRefresh {
			http.Error(w, fmt.Sprintf("refresh=%q: want whole seconds 0-%d", raw, maxRefresh), http.StatusBadRequest)
			return
		}
		refresh = n
	}
	info := h.info(r)
	theme, ok := themes[strings.ToLower(info.Color)]
	if !ok {
		theme = "other"
	}
	badge := info.GOARCH
	if info.Variant != "" {
		badge += "/" + info.Variant
	}
	commit := info.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	d := pageData{
		Hostname: info.Hostname, Color: info.Color, Theme: theme,
		Badge: badge, OS: info.GOOS, Arch: info.GOARCH, Variant: info.Variant, ArchName: archNames[info.GOARCH], Platform: info.Platform,
		Machine: info.Machine, Exec: h.platform.Exec, Version: info.Version, Commit: commit,
		GoVersion: info.GoVersion, V2: info.V2, ServedAt: info.ServedAt.Format(time.RFC3339),
		Refresh: refresh, RefreshOpts: []int{0, 1, 2, 5},
	}
	if d.Machine == "" {
		d.Machine = "n/a"
	}
	// Render to a buffer so a template error becomes a clean 500, not half a page.
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(buf.Bytes())
}
