package main

import (
	"strings"
	"testing"
)

func TestRenderNginx(t *testing.T) {
	conf, err := RenderNginx(NginxParams{Dir: "/tmp/lb", Port: 9000, Workers: 2, Blue: "127.0.0.1:1001", Green: "127.0.0.1:1002",
		BlueWeight: 4, GreenWeight: 1, Keepalive: 64})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"worker_processes 2;",
		"pid /tmp/lb/nginx.pid;",
		"server 127.0.0.1:1001 weight=4;",
		"server 127.0.0.1:1002 weight=1;",
		"keepalive 64;",
		"listen 127.0.0.1:9000 reuseport;",
		`proxy_set_header Connection "";`,
		"proxy_http_version 1.1;",
		"access_log off;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") {
		t.Error("unbalanced braces")
	}
}

func TestRenderNginxRejects(t *testing.T) {
	good := NginxParams{Dir: "/tmp/lb", Port: 9000, Workers: 1, Blue: "a:1", Green: "b:2", BlueWeight: 4, GreenWeight: 1, Keepalive: 8}
	for name, mut := range map[string]func(*NginxParams){
		"relative dir":   func(p *NginxParams) { p.Dir = "tmp" },
		"dir with ;":     func(p *NginxParams) { p.Dir = "/tmp/a;b" },
		"zero workers":   func(p *NginxParams) { p.Workers = 0 },
		"zero keepalive": func(p *NginxParams) { p.Keepalive = 0 },
	} {
		p := good
		mut(&p)
		if _, err := RenderNginx(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
