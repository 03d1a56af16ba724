package epoll

import "testing"

// The heads of the bench's plain request (wrk's) and of archway-app's answer.
var (
	benchRequest  = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
	benchResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nVary: Accept\r\nDate: Tue, 01 Dec 2026 19:43:01 GMT\r\nContent-Length: 20\r\n\r\nblue vm linux/amd64\n")
)

func BenchmarkParseRequestHead(b *testing.B) {
	var r reqHead
	for b.Loop() {
		if ok, fast := parseRequestHead(benchRequest, 16<<10, &r); !ok || !fast {
			b.Fatal("not parsed")
		}
	}
}

func BenchmarkParseResponseHead(b *testing.B) {
	var r respHead
	for b.Loop() {
		if ok, err := parseResponseHead(benchResponse, 16<<10, false, &r); !ok || err != nil {
			b.Fatal("not parsed", err)
		}
	}
}
