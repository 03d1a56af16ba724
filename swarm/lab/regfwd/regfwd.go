// Package regfwd is a tiny TCP forwarder. Lab nodes run it on 127.0.0.1:5000 towards the
// host's registry on the bridge gateway, so every engine reaches the registry under the one
// address that is an insecure registry by default (127.0.0.0/8).
package regfwd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Serve accepts on ln and copies each connection to and from upstream until ctx ends.
func Serve(ctx context.Context, ln net.Listener, upstream string) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			forward(ctx, c, upstream)
		}()
	}
}

func forward(ctx context.Context, c net.Conn, upstream string) {
	defer c.Close()
	d := net.Dialer{Timeout: 10 * time.Second}
	u, err := d.DialContext(ctx, "tcp", upstream)
	if err != nil {
		slog.Warn("regfwd: dial upstream", "upstream", upstream, "err", err)
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close so the peer sees EOF and a request/response pair can finish.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	<-done
}
