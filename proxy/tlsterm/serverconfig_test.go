package tlsterm

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
)

// serveTLS serves h on loopback behind ServerConfig(s), the way archway-proxy's
// listener will (tls.NewListener, http.Server.Serve), and returns its https:// URL.
func serveTLS(t testing.TB, s *Store, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, ServerConfig(s)))
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// protoHandler answers the request's protocol.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })

func newServedStore(t testing.TB, ca *CA, l leaf) *Store {
	t.Helper()
	certFile, keyFile := writePair(t, t.TempDir(), l)
	s, err := NewStore(certFile, keyFile, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestServerConfigHTTP2: a client offering h2 gets HTTP/2 over TLS 1.3 from a plain
// http.Server, with the store's certificate although it sent no SNI (it dialled an IP).
func TestServerConfigHTTP2(t *testing.T) {
	ca := newTestCA(t)
	a := issue(t, ca, "127.0.0.1")
	url := serveTLS(t, newServedStore(t, ca, a), protoHandler)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	resp, body := get(t, c, url)
	if resp.Proto != "HTTP/2.0" || body != "HTTP/2.0" || resp.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("proto %s, server saw %s, ALPN %q; want HTTP/2.0 by h2", resp.Proto, body, resp.TLS.NegotiatedProtocol)
	}
	if resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("version %s, want TLS 1.3", tls.VersionName(resp.TLS.Version))
	}
	if got := serialHex(resp.TLS.PeerCertificates[0]); got != a.serial {
		t.Fatalf("peer certificate %s, want the store's %s", got, a.serial)
	}
}

// TestServerConfigHTTP1: a client offering only http/1.1 (or no ALPN) gets HTTP/1.1.
func TestServerConfigHTTP1(t *testing.T) {
	ca := newTestCA(t)
	url := serveTLS(t, newServedStore(t, ca, issue(t, ca, "127.0.0.1")), protoHandler)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer c.CloseIdleConnections()
	if resp, body := get(t, c, url); resp.Proto != "HTTP/1.1" || body != "HTTP/1.1" {
		t.Fatalf("proto %s, server saw %s; want HTTP/1.1", resp.Proto, body)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN %q, want http/1.1", p)
	}
}

// TestServerConfigRejects: TLS 1.0/1.1, CBC, 3DES and RSA key exchange fail the
// handshake; the same client with an allowed suite succeeds, so the suite is why.
func TestServerConfigRejects(t *testing.T) {
	ca := newTestCA(t)
	ecURL := serveTLS(t, newServedStore(t, ca, issue(t, ca, "127.0.0.1")), protoHandler)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaLeaf := leaf{
		cert: signLeaf(t, ca, &rsaKey.PublicKey, "rsa.test"),
		key:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}),
	}
	rsaURL := serveTLS(t, newServedStore(t, ca, rsaLeaf), protoHandler)

	dial := func(url string, cfg *tls.Config) error {
		cfg.RootCAs = ca.Pool()
		cfg.ServerName = "rsa.test"
		if strings.HasPrefix(url, ecURL) {
			cfg.ServerName = "127.0.0.1"
		}
		conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), cfg)
		if err == nil {
			conn.Close()
		}
		return err
	}
	tls12 := func(suite uint16) *tls.Config {
		return &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}
	}
	for _, tc := range []struct {
		name string
		url  string
		cfg  *tls.Config
		want string // in the client's handshake error: the server's alert
	}{
		{"TLS 1.1", ecURL, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "protocol version not supported"},
		{"TLS 1.0", ecURL, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, "protocol version not supported"},
		{"ECDHE-ECDSA-AES128-SHA (CBC)", ecURL, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), "handshake failure"},
		{"ECDHE-ECDSA-AES256-SHA (CBC)", ecURL, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA), "handshake failure"},
		{"ECDHE-ECDSA-AES128-SHA256 (CBC)", ecURL, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256), "handshake failure"},
		{"ECDHE-RSA-AES128-SHA (CBC)", rsaURL, tls12(tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), "handshake failure"},
		{"ECDHE-RSA-DES-CBC3-SHA (3DES)", rsaURL, tls12(tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA), "handshake failure"},
		{"AES128-GCM-SHA256 (RSA key exchange)", rsaURL, tls12(tls.TLS_RSA_WITH_AES_128_GCM_SHA256), "handshake failure"},
		{"AES128-SHA (RSA key exchange, CBC)", rsaURL, tls12(tls.TLS_RSA_WITH_AES_128_CBC_SHA), "handshake failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := dial(tc.url, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake error %v, want one containing %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		url   string
		suite uint16
	}{
		{"ECDHE-ECDSA-AES128-GCM-SHA256", ecURL, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"ECDHE-ECDSA-CHACHA20-POLY1305", ecURL, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{"ECDHE-RSA-AES256-GCM-SHA384", rsaURL, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
		{"ECDHE-RSA-CHACHA20-POLY1305", rsaURL, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
	} {
		t.Run("allowed "+tc.name, func(t *testing.T) {
			if err := dial(tc.url, tls12(tc.suite)); err != nil {
				t.Fatalf("TLS 1.2 with %s: %v", tc.name, err)
			}
		})
	}
}

// TestServerConfigSuites: the configuration itself, for what no handshake test can
// enumerate: every TLS 1.2 suite is ECDHE with an AEAD and none is on Go's insecure list.
func TestServerConfigSuites(t *testing.T) {
	cfg := ServerConfig(&Store{})
	if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != 0 {
		t.Fatalf("versions %x..%x, want TLS 1.2 .. Go's maximum", cfg.MinVersion, cfg.MaxVersion)
	}
	if strings.Join(cfg.NextProtos, ",") != "h2,http/1.1" {
		t.Fatalf("NextProtos %v", cfg.NextProtos)
	}
	if len(cfg.Certificates) != 0 || cfg.GetCertificate == nil {
		t.Fatal("want GetCertificate and no static Certificates (which would win without SNI)")
	}
	insecure := map[uint16]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.ID] = true
	}
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		if insecure[id] || !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "_CHACHA20_POLY1305")) {
			t.Errorf("suite %s is not ECDHE with AES-GCM or ChaCha20-Poly1305", name)
		}
	}
	if len(cfg.CipherSuites) != 6 {
		t.Errorf("%d suites, want the 6 ECDHE-{ECDSA,RSA} x {AES128-GCM,AES256-GCM,CHACHA20} of Mozilla intermediate", len(cfg.CipherSuites))
	}
}
