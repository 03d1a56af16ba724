package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/template"
)

// HAProxyParams are the knobs of the HAProxy side of the comparison.
type HAProxyParams struct {
	Port    int
	Threads int    // nbthread, = -procs like nginx's workers and archway's GOMAXPROCS
	Blue    string // host:port, weight BlueWeight
	Green   string // host:port, weight GreenWeight
	// BlueWeight and GreenWeight are the two servers' weights.
	BlueWeight, GreenWeight int
	// CertFile, when set, is a PEM file holding the certificate and its key (HAProxy's
	// `crt` takes both in one file): the frontend terminates TLS, 1.2 and up; the
	// servers stay plain HTTP.
	CertFile string
}

// The backend mirrors archway-proxy's BLUE/GREEN weights with HAProxy's weighted
// round robin; keep-alive on both sides and server connections shared between
// requests (`http-reuse always`, as nginx's upstream keepalive and archway's pool).
// The request carries the X-Forwarded-* set nginx and archway send, so all do equal
// work; X-Upstream names the server that answered so the split can be counted, as
// nginx's X-Upstream does. No logging: nginx runs with access_log off. Started in
// the foreground (-db), one process with Threads threads. With a certificate the bind
// terminates TLS as a production site would: `ssl crt`, ssl-min-ver TLSv1.2,
// HAProxy's default ciphers, session cache and tickets, and X-Forwarded-Proto https.
var haproxyTmpl = template.Must(template.New("haproxy.cfg").Parse(`# written by proxy/loadbench; started with -db (foreground)
global
  nbthread {{.Threads}}
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive 30s

frontend fe
  bind 127.0.0.1:{{.Port}}{{if .CertFile}} ssl crt {{.CertFile}} ssl-min-ver TLSv1.2{{end}}
  default_backend app

backend app
  balance roundrobin
  option forwardfor
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-Forwarded-Proto {{if .CertFile}}https{{else}}http{{end}}
  http-response set-header X-Upstream %[srv_name]
  server blue {{.Blue}} weight {{.BlueWeight}}
  server green {{.Green}} weight {{.GreenWeight}}
`))

// haproxyServers maps the X-Upstream values HAProxy sends (its server names) to colours.
var haproxyServers = map[string]string{"blue": "blue", "green": "green"}

// RenderHAProxy returns the haproxy.cfg text for p.
func RenderHAProxy(p HAProxyParams) (string, error) {
	if p.Threads < 1 || p.Port < 1 || p.BlueWeight < 1 || p.GreenWeight < 1 {
		return "", fmt.Errorf("haproxy params out of range: %+v", p)
	}
	for _, addr := range []string{p.Blue, p.Green} {
		if addr == "" || strings.ContainsAny(addr, " \t\n#") {
			return "", fmt.Errorf("haproxy server address %q: want host:port", addr)
		}
	}
	if p.CertFile != "" && (!filepath.IsAbs(p.CertFile) || strings.ContainsAny(p.CertFile, " \t\n#")) {
		return "", fmt.Errorf("haproxy crt %q: want an absolute path without spaces or #", p.CertFile)
	}
	var b strings.Builder
	if err := haproxyTmpl.Execute(&b, p); err != nil {
		return "", fmt.Errorf("render haproxy.cfg: %w", err)
	}
	return b.String(), nil
}
