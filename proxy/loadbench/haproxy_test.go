package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var haproxyGood = HAProxyParams{Port: 9000, Threads: 2, Blue: "127.0.0.1:1001", Green: "127.0.0.1:1002", BlueWeight: 4, GreenWeight: 1}

func TestRenderHAProxy(t *testing.T) {
	conf, err := RenderHAProxy(haproxyGood)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"nbthread 2\n",
		"mode http\n",
		"option http-keep-alive\n",
		"http-reuse always\n",
		"balance roundrobin\n",
		"bind 127.0.0.1:9000\n",
		"server blue 127.0.0.1:1001 weight 4\n",
		"server green 127.0.0.1:1002 weight 1\n",
		"option forwardfor\n",
		"http-response set-header X-Upstream %[srv_name]\n",
		"timeout connect 5s\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "\n  log ") || strings.Contains(conf, "option httplog") {
		t.Errorf("conf logs requests:\n%s", conf)
	}
}

func TestRenderHAProxyRejects(t *testing.T) {
	for name, mut := range map[string]func(*HAProxyParams){
		"zero threads":      func(p *HAProxyParams) { p.Threads = 0 },
		"zero weight":       func(p *HAProxyParams) { p.GreenWeight = 0 },
		"no port":           func(p *HAProxyParams) { p.Port = 0 },
		"address with line": func(p *HAProxyParams) { p.Blue = "127.0.0.1:1\n  server x" },
	} {
		p := haproxyGood
		mut(&p)
		if _, err := RenderHAProxy(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The rendered file is one HAProxy accepts, where HAProxy is installed (haproxy -c).
func TestRenderHAProxyValid(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy (apt-get install haproxy)")
	}
	conf, err := RenderHAProxy(haproxyGood)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil || strings.Contains(string(out), "WARNING") {
		t.Errorf("haproxy -c: %v\n%s\n%s", err, out, conf)
	}
}

func TestRenderHAProxyTLS(t *testing.T) {
	p := haproxyGood
	p.CertFile = "/tmp/lb/tls/haproxy.pem"
	conf, err := RenderHAProxy(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  bind 127.0.0.1:9000 ssl crt /tmp/lb/tls/haproxy.pem ssl-min-ver TLSv1.2\n",
		"http-request set-header X-Forwarded-Proto https\n",
		"server blue 127.0.0.1:1001 weight 4\n", // the servers stay plain HTTP
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	var sslLines []string
	for _, line := range strings.Split(conf, "\n") {
		if strings.Contains(line, "ssl") {
			sslLines = append(sslLines, line)
		}
	}
	if strings.Contains(conf, "X-Forwarded-Proto http\n") || len(sslLines) != 1 {
		t.Errorf("TLS conf: want ssl on the bind only and X-Forwarded-Proto https:\n%s", conf)
	}
	plain, err := RenderHAProxy(haproxyGood)
	if err != nil || strings.Contains(plain, "ssl") || !strings.Contains(plain, "  bind 127.0.0.1:9000\n") ||
		!strings.Contains(plain, "X-Forwarded-Proto http\n") {
		t.Errorf("without a certificate (%v):\n%s", err, plain)
	}
	for name, crt := range map[string]string{"relative": "haproxy.pem", "space": "/tmp/my lb/haproxy.pem", "comment": "/tmp/a#b.pem"} {
		p.CertFile = crt
		if _, err := RenderHAProxy(p); err == nil {
			t.Errorf("crt %s: accepted", name)
		}
	}
}

// With a real certificate-and-key file the TLS configuration is one HAProxy accepts
// without a warning (haproxy -c), where HAProxy is installed.
func TestRenderHAProxyTLSValid(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy (apt-get install haproxy)")
	}
	dir := t.TempDir()
	files, err := newTLSFiles(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	p := haproxyGood
	p.CertFile = files.combinedFile
	conf, err := RenderHAProxy(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil || strings.Contains(string(out), "WARNING") {
		t.Errorf("haproxy -c: %v\n%s\n%s", err, out, conf)
	}
}
