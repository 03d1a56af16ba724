package socketrelay

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// UnixTransport is an http.RoundTripper that sends every request to the unix socket at
// path, whatever the request's host: the upstream for Handler.
func UnixTransport(path string) *http.Transport {
	var d net.Dialer
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		// Bytes go through as the engine sent them: no transparent gzip.
		DisableCompression:  true,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
}

// ping checks that the engine answers GET /_ping with 200 through rt, so that a relay
// pointed at the wrong socket fails at start rather than on the proxy's first read.
func ping(ctx context.Context, rt http.RoundTripper) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("_ping answered %s", resp.Status)
	}
	return nil
}
