package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/archwayhq/archway/proxy"
)

// reloader re-reads the configuration on SIGHUP: the same flags, the process's
// environment and the -config file as they are now. It applies the log level and the
// access log's switch and names, in one warning, the settings changed that only a
// restart applies (proxy.Config.RestartOnlyChanges); the backends are the provider's
// to apply.
type reloader struct {
	start  *proxy.Config // the configuration the process started with
	args   []string
	level  *slog.LevelVar
	access *accessLogSwitch
	log    *slog.Logger
}

// reread parses the configuration again and applies what it can outside the
// provider; on error nothing is applied.
func (r *reloader) reread() (*proxy.Config, error) {
	c, err := proxy.ParseConfig(r.args, os.Environ())
	if err != nil {
		return nil, err
	}
	r.level.Set(parseLevel(c.LogLevel))
	if r.access.turn(c.AccessLog) {
		r.log.Info("SIGHUP: access log turned "+onOff(c.AccessLog), "access_log", c.AccessLog)
	}
	if changed := r.start.RestartOnlyChanges(c); len(changed) > 0 {
		r.log.Warn("settings changed that apply only at a restart; they keep their start values", "settings", strings.Join(changed, ", "))
	}
	return c, nil
}

// backendsLoader is the static provider's Load: the start configuration's backends
// the first time, then those of each re-read.
func (r *reloader) backendsLoader() func() ([]proxy.BackendSpec, error) {
	first := true
	return func() ([]proxy.BackendSpec, error) {
		if first {
			first = false
			return r.start.Backends, nil
		}
		c, err := r.reread()
		if err != nil {
			return nil, err
		}
		return c.Backends, nil
	}
}
