//go:build linux

package proxy

// epollSupported: this platform has the epoll engine (proxy/epoll).
const epollSupported = true

// DefaultEngine is the engine of an unset ENGINE: the event loops, wherever they exist.
const DefaultEngine = EngineEpoll
