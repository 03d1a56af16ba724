package main

import (
	"os"
	"os/exec"
	"path/filepath"
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

func TestRenderNginxTLS(t *testing.T) {
	p := NginxParams{Dir: "/tmp/lb", Port: 9000, Workers: 2, Blue: "127.0.0.1:1001", Green: "127.0.0.1:1002",
		BlueWeight: 4, GreenWeight: 1, Keepalive: 64, CertFile: "/tmp/lb/tls/tls.crt", KeyFile: "/tmp/lb/tls/tls.key"}
	conf, err := RenderNginx(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    listen 127.0.0.1:9000 ssl reuseport;\n",
		"    ssl_certificate /tmp/lb/tls/tls.crt;\n",
		"    ssl_certificate_key /tmp/lb/tls/tls.key;\n",
		"    ssl_protocols TLSv1.2 TLSv1.3;\n",
		"    ssl_session_cache shared:SSL:10m;\n",
		"proxy_pass http://app;", // the upstream stays plain HTTP
		"proxy_set_header X-Forwarded-Proto $scheme;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") {
		t.Error("unbalanced braces")
	}
	p.CertFile, p.KeyFile = "", ""
	plain, err := RenderNginx(p)
	if err != nil || strings.Contains(plain, "ssl") {
		t.Errorf("without a certificate the conf has ssl (%v):\n%s", err, plain)
	}

	for name, mut := range map[string]func(*NginxParams){
		"cert without key":  func(p *NginxParams) { p.CertFile, p.KeyFile = "/tmp/c.pem", "" },
		"key without cert":  func(p *NginxParams) { p.CertFile, p.KeyFile = "", "/tmp/k.pem" },
		"relative cert":     func(p *NginxParams) { p.CertFile, p.KeyFile = "c.pem", "/tmp/k.pem" },
		"key with ;":        func(p *NginxParams) { p.CertFile, p.KeyFile = "/tmp/c.pem", "/tmp/k.pem; x" },
		"cert with a space": func(p *NginxParams) { p.CertFile, p.KeyFile = "/tmp/my c.pem", "/tmp/k.pem" },
	} {
		q := p
		mut(&q)
		if _, err := RenderNginx(q); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The rendered files, plain and TLS with a real certificate, are ones nginx accepts,
// where nginx is installed (nginx -t).
func TestRenderNginxValid(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("no nginx (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	files, err := newTLSFiles(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	for name, cert := range map[string][2]string{"plain": {}, "TLS": {files.certFile, files.keyFile}} {
		conf, err := RenderNginx(NginxParams{Dir: dir, Port: 9000, Workers: 1, Blue: "127.0.0.1:1001", Green: "127.0.0.1:1002",
			BlueWeight: 4, GreenWeight: 1, Keepalive: 8, CertFile: cert[0], KeyFile: cert[1]})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-t", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path).CombinedOutput()
		if err != nil || strings.Contains(string(out), "[warn]") {
			t.Errorf("%s: nginx -t: %v\n%s\n%s", name, err, out, conf)
		}
	}
}
