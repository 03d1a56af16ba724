//go:build linux

package epoll

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"testing"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/accesslog"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// BenchmarkLoopPath is one plain keep-alive GET through the event loops, with a raw
// client and a raw backend that allocate nothing per request themselves, so that
// allocs/op is the loop path's own: the proxy's request and response handling.
func BenchmarkLoopPath(b *testing.B) { benchLoopPath(b, proxy.Options{}) }

// BenchmarkLoopPathAccessLog is BenchmarkLoopPath with the access log on (JSON, to a
// discarding destination): what a logged request costs, the log's goroutine
// included; dropped/op says whether the log kept up (it should be 0).
func BenchmarkLoopPathAccessLog(b *testing.B) {
	l := accesslog.New(io.Discard, "json", 0, 0)
	benchLoopPath(b, proxy.Options{AccessLog: l})
	_ = l.Close()
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

func benchLoopPath(b *testing.B, opts proxy.Options) {
	be := rawKeepAliveBackend(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	p := proxytest.NewProxy(b, opts, proxy.BackendSpec{Name: "BLUE", Weight: 1, Members: []*url.URL{{Scheme: "http", Host: be}}})
	front := serveEpoll(b, p, nil)
	c, err := net.Dial("tcp", front.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /a?b=c HTTP/1.1\r\nHost: bench\r\nUser-Agent: loop\r\n\r\n")
	buf := make([]byte, 4096)
	roundTrip := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			k, err := c.Read(buf[n:])
			if err != nil {
				b.Fatal(err)
			}
			n += k
			if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 && n >= i+4+2 {
				return
			}
		}
	}
	roundTrip() // the backend connection is dialled once, outside the count
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		roundTrip()
	}
}

// rawKeepAliveBackend answers every request head on every connection with resp.
func rawKeepAliveBackend(b *testing.B, resp string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				out, buf, n := []byte(resp), make([]byte, 8192), 0
				for {
					k, err := c.Read(buf[n:])
					if err != nil {
						if err != io.EOF {
							return
						}
						return
					}
					n += k
					for {
						i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						if _, err := c.Write(out); err != nil {
							return
						}
						n = copy(buf, buf[i+4:n])
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
