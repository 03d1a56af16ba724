package tlsterm

import (
	"crypto/tls"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRotationUnderLoad: a client issues requests in a loop, each on a new connection,
// while the files are replaced by leaf B of the same CA: first the key alone (a pair
// that cannot load, held while requests go on), then the certificate. No request
// fails, connections present A until the switch and B from then on.
func TestRotationUnderLoad(t *testing.T) {
	ca := newTestCA(t)
	a, b := issue(t, ca, "127.0.0.1"), issue(t, ca, "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, a)
	s, err := NewStore(certFile, keyFile, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	go s.Watch(t.Context(), 20*time.Millisecond)
	url := serveTLS(t, s, protoHandler)

	// DisableKeepAlives: every request is a new connection and a full handshake (the
	// client keeps no session cache), the case a rotation must get right.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
		DisableKeepAlives: true,
	}}
	var (
		mu      sync.Mutex
		serials []string // of every request, in order
		failed  []string
		stop    atomic.Bool
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for !stop.Load() {
			resp, err := client.Get(url)
			mu.Lock()
			if err != nil {
				failed = append(failed, err.Error())
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed = append(failed, resp.Status)
				}
				serials = append(serials, serialHex(resp.TLS.PeerCertificates[0]))
			}
			mu.Unlock()
		}
	}()
	count := func(serial string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range serials {
			if s == serial {
				n++
			}
		}
		return n
	}
	defer func() {
		stop.Store(true)
		<-done
	}()

	waitFor(t, "3 requests presenting leaf A", func() bool { return count(a.serial) >= 3 })
	writeFile(t, dir, "tls.key", b.key)
	waitFor(t, "the store to reject the half-replaced pair (B's key, A's certificate)", func() bool {
		return strings.Contains(s.Info().LastError, "key does not match")
	})
	during := count(a.serial)
	waitFor(t, "3 more requests on leaf A while the pair is half-replaced", func() bool { return count(a.serial) >= during+3 })
	writeFile(t, dir, "tls.crt", b.cert)
	waitFor(t, "a new connection presenting leaf B", func() bool { return count(b.serial) >= 1 })
	waitFor(t, "3 more requests on leaf B", func() bool { return count(b.serial) >= 3 })
	stop.Store(true)
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		t.Fatalf("%d of %d requests failed during the rotation, first: %s", len(failed), len(failed)+len(serials), failed[0])
	}
	first := -1
	for i, s := range serials {
		switch {
		case s == b.serial && first < 0:
			first = i
		case s == a.serial && first >= 0:
			t.Fatalf("request %d presented leaf A after request %d presented B", i, first)
		case s != a.serial && s != b.serial:
			t.Fatalf("request %d presented an unknown serial %s", i, s)
		}
	}
	t.Logf("%d requests on A, then %d on B, none failed", first, len(serials)-first)
}
