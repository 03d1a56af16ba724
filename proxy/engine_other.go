//go:build !linux

package proxy

// epollSupported: ENGINE=epoll exists on Linux only; ParseConfig refuses it elsewhere.
const epollSupported = false

// DefaultEngine is the engine of an unset ENGINE: net/http where there are no event loops.
const DefaultEngine = EngineNetHTTP
