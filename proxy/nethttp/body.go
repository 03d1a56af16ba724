package nethttp

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/archwayhq/archway/proxy"
)

// clientBody watches a request body on its way to the backend: it holds the body to
// MAX_BODY, gives each read BODY_TIMEOUT, and keeps the first failure, so that the core
// can tell a client's broken body from a backend's failure.
type clientBody struct {
	rc      io.ReadCloser
	ctl     *http.ResponseController
	limit   int64 // 0: none
	n       int64
	timeout time.Duration
	err     error
}

// watchBody wraps r.Body in a clientBody, for the outgoing request only: the server's
// own r.Body must stay what net/http made it. With `Expect: 100-continue` that is the
// reader that sends "100 Continue" on the first read; seeing it unread after the
// handler, net/http closes the connection instead of reading the body the client
// has not sent (replaced, net/http reads it before the answer, and a client like curl
// waits its expect timeout, 1 s, for a 100 that never comes).
func watchBody(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) *clientBody {
	return &clientBody{rc: r.Body, ctl: http.NewResponseController(w), limit: limit, timeout: timeout}
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.timeout > 0 {
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	switch {
	case b.limit > 0 && b.n > b.limit:
		b.err = proxy.ErrBodyTooLarge
		return 0, b.err
	case err == io.EOF:
		if b.timeout > 0 {
			// The server's own deadlines govern the connection from here on.
			_ = b.ctl.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.err = proxy.ErrBodyTimeout
		return n, b.err
	case err != nil:
		b.err = proxy.BodyMalformedError{Err: err}
		return n, b.err
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }
