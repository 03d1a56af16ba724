package rollout

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/docker/docker/client"

	"github.com/archwayhq/archway/internal/smallfile"
	"github.com/archwayhq/archway/swarm/lab/lab"
)

// Connect opens a Docker client on the cluster the Swarm commands drive (lab.ClusterHost:
// DOCKER_HOST, else the lab's manager) and returns it with that host.
func Connect() (*client.Client, string, error) {
	host, err := lab.ClusterHost()
	if err != nil {
		return nil, "", err
	}
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, "", fmt.Errorf("docker client for %s: %w", host, err)
	}
	return cli, host, nil
}

// TrustCA is an HTTP transport that trusts the CA certificate in caFile (the demo's, for
// a proxy serving HTTPS) and speaks HTTP/2 when the proxy offers it (ALPN).
func TrustCA(caFile string) (*http.Transport, error) {
	pem, err := smallfile.Read(caFile, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", caFile)
	}
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16}, nil
}
