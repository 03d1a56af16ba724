package tests

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy/tlsterm"
	"github.com/archwayhq/archway/swarm/rollout"
	st "github.com/archwayhq/archway/tests/internal/swarmtest"
)

// TestTLSThroughProxy: a proxy given a certificate and key as Docker secrets serves
// HTTPS on its data port; a client that trusts only the test's CA reaches every
// architecture over HTTP/1.1 and over HTTP/2, at the exact weights, and /status shows
// the certificate served.
func TestTLSThroughProxy(t *testing.T) {
	t.Parallel()
	c := st.Connect(t)
	group := c.Group(t)
	weights := map[string]int{"blue": 3, "green": 1}
	deployColours(t, c, group, weights)

	ca, err := tlsterm.NewCA("archway test CA "+c.RunID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"localhost"}
	for _, n := range c.NodeList() {
		hosts = append(hosts, n.Addr)
	}
	crt, key, err := ca.Issue(hosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certName, keyName := c.Name("tls-cert"), c.Name("tls-key")
	certID, keyID := c.CreateSecret(t, certName, crt), c.CreateSecret(t, keyName, key)
	p := c.DeployProxy(t, group, st.WithTLSSecrets(certID, certName, keyID, keyName))
	st.WaitOn(t, "proxy to list both colours", p.HasBackends(upper(weights), len(c.NodeList())), c.Timeout(30*time.Second))
	url := strings.Replace(p.URL, "http://", "https://", 1)

	for _, v := range []struct {
		name, proto string
		h2          bool
	}{{"HTTP/1.1", "HTTP/1.1", false}, {"HTTP/2", "HTTP/2.0", true}} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: v.h2}
		if !v.h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
		n := rollout.Cycle(upper(weights)) * 5 * len(c.NodeList())
		got, protos := st.SampleWith(context.Background(), client, url, n)
		t.Logf("%s over TLS to %s: %d requests: %s; protocols %v", v.name, url, n, got, protos)
		if got.Failed > 0 {
			t.Fatalf("%s: %d of %d requests failed: %v", v.name, got.Failed, n, got.Errors())
		}
		if protos[v.proto] != n {
			t.Errorf("%s: protocols %v, want %d × %s", v.name, protos, n, v.proto)
		}
		if err := rollout.CheckSplit(got.ByColour, upper(weights), 0); err != nil {
			t.Errorf("%s: %v", v.name, err)
		}
		requireArches(t, c, got)
	}

	code, body, err := p.AdminDo(context.Background(), "GET", "/status", "", p.Token)
	if err != nil || code != 200 {
		t.Fatalf("GET /status: %d %v", code, err)
	}
	var status struct {
		TLS *tlsterm.Info `json:"tls"`
	}
	if err := json.Unmarshal([]byte(body), &status); err != nil || status.TLS == nil {
		t.Fatalf("/status has no tls section: %v", err)
	}
	t.Logf("/status tls: subject %q issuer %q names %v ips %v not_after %s", status.TLS.Subject, status.TLS.Issuer, status.TLS.DNSNames, status.TLS.IPAddresses, status.TLS.NotAfter)
	if !strings.Contains(status.TLS.Issuer, "archway test CA "+c.RunID) || time.Until(status.TLS.NotAfter) <= 0 {
		t.Errorf("/status tls: issuer %q not_after %s; want this test's CA and a future expiry", status.TLS.Issuer, status.TLS.NotAfter)
	}
}
