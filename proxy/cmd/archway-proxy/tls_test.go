package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
	"github.com/archwayhq/archway/proxy/tlsterm"
)

// tlsClient trusts pool; h2 chooses HTTP/2 by ALPN, otherwise HTTP/1.1 only.
func tlsClient(pool *x509.CertPool, h2, keepAlive bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2, DisableKeepAlives: !keepAlive}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestTLSTermination runs archway-proxy with TLS_CERT_FILE/TLS_KEY_FILE: HTTP/1.1 and
// HTTP/2 reach the backend (which sees X-Forwarded-Proto: https), /status shows the
// certificate, a certificate replaced on disk is served to new connections without a
// restart and without a failed request under load, and the redirect listener answers
// 308 to the HTTPS port.
func TestTLSTermination(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", r.Header.Get("X-Forwarded-Proto"), r.Header.Get("Color"), r.Proto)
	}))
	defer backend.Close()
	ca, err := tlsterm.NewCA("archway test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	issue := func() string {
		t.Helper()
		crt, key, err := ca.Issue([]string{"127.0.0.1", "localhost"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := tlsterm.WriteFiles(dir, crt, key); err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(crt, key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		return fmt.Sprintf("%X", leaf.SerialNumber)
	}
	serialA := issue()
	redirect := testutil.FreePort(t)
	m := startMainWith(t, "https", tlsClient(ca.Pool(), false, true), "-drain 0s",
		"BLUE="+backend.URL, "TLS_CERT_FILE="+dir+"/"+tlsterm.CertFileName, "TLS_KEY_FILE="+dir+"/"+tlsterm.KeyFileName,
		"TLS_RELOAD_INTERVAL=100ms", fmt.Sprintf("REDIRECT_PORT=%d", redirect))

	for _, c := range []struct {
		name  string
		h2    bool
		proto string
	}{{"HTTP/1.1", false, "HTTP/1.1"}, {"HTTP/2", true, "HTTP/2.0"}} {
		resp, err := tlsClient(ca.Pool(), c.h2, true).Get(m.base + "/x")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != c.proto || resp.StatusCode != 200 || string(body) != "https blue HTTP/1.1" {
			t.Errorf("%s: %s %d %q; want %s 200 \"https blue HTTP/1.1\" (the backend is spoken to in HTTP/1.1)", c.name, resp.Proto, resp.StatusCode, body, c.proto)
		}
	}

	status := func() (subject, serial string, reloads int) {
		t.Helper()
		resp, err := http.Get(m.admin + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct {
			TLS struct {
				Subject, Serial string
				Reloads         int
				NotAfter        time.Time `json:"not_after"`
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		if st.TLS.NotAfter.IsZero() {
			t.Errorf("/status tls has no not_after")
		}
		return st.TLS.Subject, st.TLS.Serial, st.TLS.Reloads
	}
	if _, serial, _ := status(); strings.TrimLeft(strings.ReplaceAll(serial, ":", ""), "0") != serialA {
		t.Errorf("/status tls serial %s, want %s", serial, serialA)
	}

	// Rotation under load: every request on a new connection (a new handshake).
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	var seenB atomic.Bool
	serialB := ""
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := tlsClient(ca.Pool(), false, false)
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(m.base + "/")
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					lastErr.Store(resp.Status)
					continue
				}
				ok.Add(1)
				mu.Lock()
				if serialB != "" && fmt.Sprintf("%X", resp.TLS.PeerCertificates[0].SerialNumber) == serialB {
					seenB.Store(true)
				}
				mu.Unlock()
			}
		})
	}
	proxytest.WaitFor(t, "requests before the rotation", 5*time.Second, func() bool { return ok.Load() > 50 })
	mu.Lock()
	serialB = issue()
	mu.Unlock()
	proxytest.WaitFor(t, "a new connection served certificate B "+serialB, 10*time.Second, seenB.Load)
	before := ok.Load()
	proxytest.WaitFor(t, "requests after the rotation", 5*time.Second, func() bool { return ok.Load() > before+50 })
	close(stop)
	wg.Wait()
	t.Logf("rotation under load: %d requests, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d requests failed across the rotation (last: %v)", failed.Load(), lastErr.Load())
	}
	if _, serial, reloads := status(); strings.TrimLeft(strings.ReplaceAll(serial, ":", ""), "0") != serialB || reloads != 1 {
		t.Errorf("/status after rotation: serial %s reloads %d; want %s, 1", serial, reloads, serialB)
	}

	// The redirect listener.
	plain := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := plain.Get(fmt.Sprintf("http://127.0.0.1:%d/a/b?c=d", redirect))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := m.base + "/a/b?c=d"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("redirect: %d %q; want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// Plain HTTP on the TLS port is not served.
	if resp, err := plain.Get(strings.Replace(m.base, "https", "http", 1) + "/"); err == nil {
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS port: %d; want 400 (net/http's answer)", resp.StatusCode)
		}
		resp.Body.Close()
	}
}
