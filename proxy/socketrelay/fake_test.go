package socketrelay

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

// shortDir is a fresh directory with a short path: t.TempDir() embeds the test name, and a
// unix socket path must fit in 107 bytes.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// fakeEngine is a Docker engine API on a unix socket: /_ping as the real one answers it,
// canned JSON bodies by path (version prefix removed), and /events as a stream that sends
// one event, waits for release, sends another and ends. Every request it gets is recorded.
type fakeEngine struct {
	sock    string
	bodies  map[string]string
	release chan struct{}
	once    sync.Once

	mu   sync.Mutex
	seen []string // "METHOD /request-uri"
}

func newFakeEngine(t *testing.T, bodies map[string]string) *fakeEngine {
	t.Helper()
	e := &fakeEngine{sock: filepath.Join(shortDir(t), "engine.sock"), bodies: bodies, release: make(chan struct{})}
	ln, err := net.Listen("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	t.Cleanup(func() {
		e.releaseStreams()
		srv.Close()
	})
	return e
}

const (
	event1 = `{"Type":"service","Action":"update","Actor":{"ID":"svc1"},"time":1}` + "\n"
	event2 = `{"Type":"node","Action":"update","Actor":{"ID":"n1"},"time":2}` + "\n"
)

func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.seen = append(e.seen, r.Method+" "+r.RequestURI)
	e.mu.Unlock()

	p := r.URL.Path
	if loc := versionPrefix.FindStringIndex(p); loc != nil {
		p = p[loc[1]-1:]
	}
	switch p {
	case "/_ping":
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Docker-Experimental", "false")
		w.Header().Set("Ostype", "linux")
		w.Header().Set("Swarm", "active/manager")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		_, _ = io.WriteString(w, "OK")
	case "/events":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, event1)
		w.(http.Flusher).Flush()
		select {
		case <-e.release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, event2)
	default:
		body, ok := e.bodies[p]
		if !ok {
			// What a relay must never let through: make it visible if it does.
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "the engine served "+r.Method+" "+r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Api-Version", "1.41")
		_, _ = io.WriteString(w, body)
	}
}

// releaseStreams lets every /events stream send its second event and end.
func (e *fakeEngine) releaseStreams() { e.once.Do(func() { close(e.release) }) }

func (e *fakeEngine) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

// linesWith returns the log lines containing substr.
func linesWith(s *testutil.SyncBuffer, substr string) []string {
	var out []string
	for l := range strings.Lines(s.String()) {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// startRelay serves Handler for upstream on a unix socket; it returns the socket and the
// log the handler writes.
func startRelay(t *testing.T, upstream string) (string, *testutil.SyncBuffer) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sock := filepath.Join(shortDir(t), "relay.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	tr := UnixTransport(upstream)
	srv := &http.Server{Handler: Handler(tr, log)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return sock, logs
}

// rawDo writes raw (a request as bytes on the wire, so that nothing cleans or re-encodes
// it on the way) to the unix socket sock and reads one response.
func rawDo(t *testing.T, sock, method, raw string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: read response: %v", raw, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%q: read body: %v", raw, err)
	}
	return resp, body
}

// unixClient is an HTTP client whose every request goes to sock.
func unixClient(sock string) *http.Client {
	return &http.Client{Transport: UnixTransport(sock)}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
