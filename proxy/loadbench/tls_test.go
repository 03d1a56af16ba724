package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The run's files load as a pair (nginx, archway-proxy) and as one file (HAProxy),
// and the transport trusts the certificate for 127.0.0.1 and speaks HTTP/1.1 only,
// as wrk does, even to a server that offers HTTP/2.
func TestTLSFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	files, err := newTLSFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.transport.CloseIdleConnections()
	pair, err := tls.LoadX509KeyPair(files.certFile, files.keyFile)
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	combined, err := os.ReadFile(files.combinedFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(combined, combined); err != nil {
		t.Errorf("combined file: %v", err)
	}
	for _, f := range []string{files.keyFile, files.combinedFile} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v %v, want 0600", f, fi.Mode(), err)
		}
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "10.0.0.1:1")
		fmt.Fprintf(w, "blue %s\n", r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshake below fails
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	client := &http.Client{Transport: files.transport}
	resp, err := client.Get(srv.URL) // https://127.0.0.1:port
	if err != nil {
		t.Fatalf("GET %s trusting the run's CA: %v", srv.URL, err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.TLS == nil || resp.TLS.NegotiatedProtocol == "h2" {
		t.Errorf("proto %s, ALPN %q: want HTTP/1.1 over TLS", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	got, err := Split(context.Background(), files.transport, srv.URL, 20, colourFromBody)
	if err != nil || got["blue"] != 20 {
		t.Errorf("split over TLS: %v %v", got, err)
	}
	if _, err := http.Get(srv.URL); err == nil {
		t.Error("the default client trusts the run's certificate")
	}
}
