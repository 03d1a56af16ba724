// Package testutil holds the small helpers several packages' tests share. Only _test
// files import it.
package testutil

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago, for a process the
// test starts itself (which must be told its port before it listens).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// SyncBuffer is a bytes.Buffer safe for a writer goroutine (a logger, a process's
// stderr copier) and the test reading it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tally counts GETs that load tests send through a proxy: a request fails on a
// transport error or any status but 200, and the first failure is kept to explain it.
type Tally struct {
	OK, Failed atomic.Int64
	firstErr   atomic.Value
}

// Get sends one GET for url and records the outcome.
func (r *Tally) Get(client *http.Client, url string) {
	resp, err := client.Get(url)
	if err != nil {
		r.fail(err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.fail(url + ": " + resp.Status)
		return
	}
	r.OK.Add(1)
}

func (r *Tally) fail(why string) {
	r.Failed.Add(1)
	r.firstErr.CompareAndSwap(nil, why)
}

// FirstErr explains the first failed request, "" when none failed.
func (r *Tally) FirstErr() string {
	s, _ := r.firstErr.Load().(string)
	return s
}

// Load sends GETs for url from n goroutines, tracked by wg, until stop is closed.
func (r *Tally) Load(wg *sync.WaitGroup, stop <-chan struct{}, n int, client *http.Client, url string) {
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r.Get(client, url)
			}
		})
	}
}
