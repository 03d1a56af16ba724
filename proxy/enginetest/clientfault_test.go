package enginetest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// TestClientFaultsNeverEjectABackend: a client's broken request is the client's fault.
// Each case is sent over and over (more often than MAX_FAILS), gets the proxy's own
// 4xx, and afterwards plain requests still reach every member, with no ejection and
// no consecutive failure counted against any of them — on both engines.
func TestClientFaultsNeverEjectABackend(t *testing.T) {
	const repeats = 6 // twice MaxFails
	cases := []struct {
		name string
		// send writes the faulty request on a fresh connection.
		send func(c *net.TCPConn)
		want int
	}{
		{"bad chunk size", func(c *net.TCPConn) {
			io.WriteString(c, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
		}, http.StatusBadRequest},
		{"negative chunk size", func(c *net.TCPConn) {
			io.WriteString(c, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n")
		}, http.StatusBadRequest},
		{"overflowing chunk size", func(c *net.TCPConn) {
			io.WriteString(c, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")
		}, http.StatusBadRequest},
		{"truncated body then half-close", func(c *net.TCPConn) {
			io.WriteString(c, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly ten b")
			_ = c.CloseWrite()
		}, http.StatusBadRequest},
		{"slow body", func(c *net.TCPConn) {
			// Ten of a hundred bytes, then nothing: BODY_TIMEOUT (300ms here) runs out.
			io.WriteString(c, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly ten b")
		}, http.StatusRequestTimeout},
		{"declared body larger than allowed", func(c *net.TCPConn) {
			io.WriteString(c, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"+strings.Repeat("x", 5000))
		}, http.StatusRequestEntityTooLarge},
		{"chunked body larger than allowed", func(c *net.TCPConn) {
			io.WriteString(c, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
			for range 5 {
				fmt.Fprintf(c, "400\r\n%s\r\n", strings.Repeat("y", 0x400))
			}
			io.WriteString(c, "0\r\n\r\n")
		}, http.StatusRequestEntityTooLarge},
	}
	forEachEngine(t, func(t *testing.T, engine string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var hits [3]atomic.Int64
				var specs []proxy.BackendSpec
				for i := range hits {
					be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						// A backend that reads the whole body before it answers, as an
						// upload handler does: it sees the client's broken body too.
						if _, err := io.Copy(io.Discard, r.Body); err != nil {
							return
						}
						hits[i].Add(1)
						io.WriteString(w, "ok")
					}))
					t.Cleanup(be.Close)
					specs = append(specs, proxy.BackendSpec{Name: fmt.Sprintf("C%d", i), Weight: 1, Members: []*url.URL{proxytest.MustURL(t, be.URL)}})
				}
				p := newTestProxy(t, engine, proxy.Options{MaxFails: 3, FailTimeout: time.Minute,
					BodyTimeout: 300 * time.Millisecond, MaxBody: 4096}, specs...)
				front := newFront(t, p)
				for i := range repeats {
					if got := sendFault(t, front, tc.send); got != tc.want {
						t.Fatalf("attempt %d: status %d, want %d", i+1, got, tc.want)
					}
				}
				for range 30 {
					resp, err := front.Client().Get(front.URL + "/after")
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("normal request after the faults: %d %q", resp.StatusCode, body)
					}
				}
				for i := range hits {
					if hits[i].Load() < 10 {
						t.Errorf("member C%d answered %d of 30 normal requests, want 10", i, hits[i].Load())
					}
				}
				for _, c := range p.Status().Backends {
					for _, m := range c.Members {
						if m.Ejections != 0 || m.ConsecutiveFailures != 0 || !m.Up {
							t.Errorf("%s %s: ejections %d, consecutive failures %d, up %v; want 0, 0, true",
								c.Name, m.URL, m.Ejections, m.ConsecutiveFailures, m.Up)
						}
					}
				}
				if n := p.Status().ClientFaults; n != repeats {
					t.Errorf("client faults counted %d, want %d", n, repeats)
				}
			})
		}
	})
}

// sendFault sends one faulty request on a fresh connection and returns the status of
// the answer (0 when the connection closed without one within 5 s).
func sendFault(t *testing.T, front *proxytest.Front, send func(*net.TCPConn)) int {
	t.Helper()
	c, err := net.Dial("tcp", front.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	send(c.(*net.TCPConn))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSlowUploadOutlastsTheAttemptDeadline: ATTEMPT_TIMEOUT bounds connecting and the
// wait for a response head, not the upload before it — a body that keeps coming for
// longer than the deadline (each part within BODY_TIMEOUT) reaches the backend whole.
func TestSlowUploadOutlastsTheAttemptDeadline(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				return
			}
			fmt.Fprintf(w, "got %d", n)
		}))
		t.Cleanup(be.Close)
		p := newTestProxy(t, engine, proxy.Options{AttemptTimeout: 200 * time.Millisecond, BodyTimeout: time.Second},
			proxy.BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, be.URL)}})
		front := newFront(t, p)
		pr, pw := io.Pipe()
		go func() {
			for range 8 { // 8 × 100 ms: four times the attempt deadline
				if _, err := pw.Write([]byte(strings.Repeat("u", 1000))); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond) // the slow client this test is about
			}
			pw.Close()
		}()
		resp, err := front.Client().Post(front.URL+"/upload", "application/octet-stream", pr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "got 8000" {
			t.Fatalf("slow upload: %d %q, want 200 \"got 8000\"", resp.StatusCode, body)
		}
		if m := member(t, p, "blue", 0); m.Ejections != 0 || m.ConsecutiveFailures != 0 {
			t.Fatalf("member ejections %d, consecutive failures %d after a slow upload, want 0", m.Ejections, m.ConsecutiveFailures)
		}
	})
}

// TestUploadThenSilenceTimesOut: after a body was sent, a backend that never answers
// still meets the attempt deadline (504, a backend fault).
func TestUploadThenSilenceTimesOut(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		release := make(chan struct{})
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(release); be.Close() })
		p := newTestProxy(t, engine, proxy.Options{AttemptTimeout: 300 * time.Millisecond},
			proxy.BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{proxytest.MustURL(t, be.URL)}})
		front := newFront(t, p)
		start := time.Now()
		resp, err := front.Client().Post(front.URL+"/upload", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d := time.Since(start); resp.StatusCode != http.StatusGatewayTimeout || d > 3*time.Second {
			t.Fatalf("silent backend after an upload: %d after %v, want 504 within the 300ms deadline (+ slack)", resp.StatusCode, d)
		}
	})
}
