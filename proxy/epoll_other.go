//go:build !linux

package proxy

import (
	"context"
	"errors"
	"net"

	"github.com/archwayhq/archway/internal/server"
)

// epollSupported: ENGINE=epoll exists on Linux only; ParseConfig refuses it elsewhere.
const epollSupported = false

// DefaultEngine is the engine of an unset ENGINE: net/http where there are no event loops.
const DefaultEngine = EngineNetHTTP

// EpollServer is Linux-only; elsewhere its Serve fails at once.
func (p *Proxy) EpollServer(*server.Readiness, int) server.Engine { return noEpoll{} }

type noEpoll struct{}

var errNoEpoll = errors.New("ENGINE=epoll needs Linux")

func (noEpoll) Serve(net.Listener) error       { return errNoEpoll }
func (noEpoll) Shutdown(context.Context) error { return nil }
func (noEpoll) Close() error                   { return nil }
