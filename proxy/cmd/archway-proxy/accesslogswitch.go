package main

import (
	"io"
	"sync"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/accesslog"
)

// accessLogSwitch turns the proxy's access log on and off (ACCESS_LOG at start and on
// each SIGHUP). The log is made the first time it is turned on and kept to the exit,
// when close writes out what is still queued: turned off, it only stops receiving.
type accessLogSwitch struct {
	p      *proxy.Proxy
	dst    io.Writer // stdout
	format string    // LOG_FORMAT at start

	mu  sync.Mutex
	log *accesslog.Log // nil until first on
	on  bool
}

// turn switches the access log on or off and reports whether that changed anything.
func (s *accessLogSwitch) turn(on bool) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on == s.on {
		return false
	}
	s.on = on
	if !on {
		s.p.SetAccessLog(nil)
		return true
	}
	if s.log == nil {
		// Queued, so that a slow stdout never holds a request up.
		s.log = accesslog.New(s.dst, s.format, 0, 0)
	}
	s.p.SetAccessLog(s.log)
	return true
}

// close turns the log off and writes out its queue.
func (s *accessLogSwitch) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p.SetAccessLog(nil)
	if s.log != nil {
		_ = s.log.Close()
	}
}

// onOff is on for true, off for false.
func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
