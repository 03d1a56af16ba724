//go:build !linux

package epoll

import (
	"context"
	"errors"
	"net"

	"github.com/archwayhq/archway/internal/server"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/nethttp"
)

// Engine is Linux-only; elsewhere its Serve fails at once (ParseConfig refuses
// ENGINE=epoll there before it comes to that).
type Engine struct{}

// New returns an engine whose Serve fails: epoll exists on Linux only.
func New(*proxy.Proxy, *nethttp.Handler, *server.Readiness, int) *Engine { return &Engine{} }

var errNoEpoll = errors.New("ENGINE=epoll needs Linux")

// Serve fails: no epoll here.
func (*Engine) Serve(net.Listener) error { return errNoEpoll }

// Shutdown has nothing to stop.
func (*Engine) Shutdown(context.Context) error { return nil }

// Close has nothing to close.
func (*Engine) Close() error { return nil }
