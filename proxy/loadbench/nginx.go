package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/template"
)

// NginxParams are the knobs of the nginx side of the comparison.
type NginxParams struct {
	Dir        string // temp dir: pid, logs, temp paths
	Port       int
	Workers    int
	Blue       string // host:port, weight 4 (BlueWeight)
	Green      string // host:port, weight 1 (GreenWeight)
	BlueWeight int
	// GreenWeight is the second upstream's weight.
	GreenWeight int
	// Keepalive is the idle upstream connections each worker keeps (nginx `keepalive`).
	Keepalive int
	// CertFile and KeyFile (PEM), both or neither: the server listens with TLS
	// (`listen … ssl`), TLS 1.2 and 1.3, a shared session cache; the upstream stays
	// plain HTTP.
	CertFile, KeyFile string
}

// The upstream block mirrors archway-proxy's BLUE/GREEN weights; nginx's round robin
// with weights is the smooth weighted round robin archway implements. The proxied
// request carries the same X-Forwarded-* headers archway sets so both do equal work;
// X-Upstream lets the split be counted (nginx cannot set Color per upstream). With a
// certificate the server terminates TLS as a production site would: `listen … ssl`,
// TLS 1.2 and 1.3, nginx's default ciphers and session tickets, and a session cache
// shared by the workers (shared:SSL:10m, the size nginx's documentation and Mozilla's
// generator use).
var nginxTmpl = template.Must(template.New("nginx.conf").Parse(`# written by proxy/loadbench; started with -g 'daemon off;'
worker_processes {{.Workers}};
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path {{.Dir}}/client_body;
  proxy_temp_path {{.Dir}}/proxy;
  fastcgi_temp_path {{.Dir}}/fastcgi;
  uwsgi_temp_path {{.Dir}}/uwsgi;
  scgi_temp_path {{.Dir}}/scgi;
  keepalive_requests 1000000;
  upstream app {
    server {{.Blue}} weight={{.BlueWeight}};
    server {{.Green}} weight={{.GreenWeight}};
    keepalive {{.Keepalive}};
  }
  server {
    listen 127.0.0.1:{{.Port}}{{if .CertFile}} ssl{{end}} reuseport;
{{- if .CertFile}}
    ssl_certificate {{.CertFile}};
    ssl_certificate_key {{.KeyFile}};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
{{- end}}
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering on;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`))

// RenderNginx returns the nginx.conf text for p.
func RenderNginx(p NginxParams) (string, error) {
	if p.Workers < 1 || p.Port < 1 || p.BlueWeight < 0 || p.GreenWeight < 0 || p.Keepalive < 1 {
		return "", fmt.Errorf("nginx params out of range: %+v", p)
	}
	if !filepath.IsAbs(p.Dir) || strings.ContainsAny(p.Dir, " ;{}") {
		return "", fmt.Errorf("nginx dir %q: want an absolute path without spaces or ;{}", p.Dir)
	}
	if (p.CertFile == "") != (p.KeyFile == "") {
		return "", fmt.Errorf("nginx TLS: certificate %q and key %q: want both or neither", p.CertFile, p.KeyFile)
	}
	for _, f := range []string{p.CertFile, p.KeyFile} {
		if f != "" && (!filepath.IsAbs(f) || strings.ContainsAny(f, " \t\n;{}")) {
			return "", fmt.Errorf("nginx TLS file %q: want an absolute path without spaces or ;{}", f)
		}
	}
	var b strings.Builder
	if err := nginxTmpl.Execute(&b, p); err != nil {
		return "", fmt.Errorf("render nginx.conf: %w", err)
	}
	return b.String(), nil
}
