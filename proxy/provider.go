// Package proxy is archway's weighted blue/green/canary reverse proxy: colours
// (BLUE, GREEN, …) with weights, smooth weighted round robin between them from an
// immutable snapshot, round robin over a colour's members, active and passive health,
// retries, DNS discovery, stickiness, an admin API and Prometheus metrics.
package proxy

import (
	"context"
	"log/slog"
	"net/url"
)

// BackendSpec is one colour: its name (upper-case, e.g. "BLUE"), weight, and member base URLs.
// A member URL with a dns+http(s) scheme or a host starting with "tasks." is expanded by
// the proxy into one member per resolved address (see discovery_dns.go).
type BackendSpec struct {
	Name    string
	Weight  int
	Members []*url.URL
	// Info says where members run, keyed by Members[i].String(); nil, or a member
	// missing from it, means unknown. Members expanded from a discovery URL inherit
	// its entry. A member keeps its statistics when only its Info changes.
	Info map[string]MemberInfo
}

// MemberInfo is what a provider knows of a member beyond its address: the node it
// runs on and that node's platform. The proxy breaks its statistics down by colour
// and platform with it, so that a release failing on one architecture shows there.
type MemberInfo struct {
	// Node is the node's host name, "" when unknown.
	Node string
	// Platform is the node's OCI platform ("linux/amd64", "linux/arm/v7"; see
	// internal/platform.OfNode: the archway.arch node label, else uname), "" when unknown.
	Platform string
}

// A Provider discovers backends and calls apply with the complete desired set whenever it
// changes. apply validates and swaps the snapshot atomically; an error leaves the old one.
type Provider interface {
	Run(ctx context.Context, apply func([]BackendSpec) error) error
}

// StaticProvider serves a configuration read from env, config file and flags. It applies
// Load once, then again on every Reload signal (SIGHUP in archway-proxy); a reload that
// fails to load or to apply is logged in one line and the running configuration stays.
type StaticProvider struct {
	// Load returns the desired backends; it is called at start and on every reload.
	Load func() ([]BackendSpec, error)
	// Reload triggers a re-read; nil means never.
	Reload <-chan struct{}
	// Logger receives reload outcomes; slog.Default() when nil.
	Logger *slog.Logger
}

var _ Provider = (*StaticProvider)(nil)

// Run applies the initial configuration (its failure is returned: a bad start must not
// serve) and then follows Reload until ctx ends.
func (s *StaticProvider) Run(ctx context.Context, apply func([]BackendSpec) error) error {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	specs, err := s.Load()
	if err != nil {
		return err
	}
	if err := apply(specs); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-s.Reload:
			if !ok {
				<-ctx.Done()
				return nil
			}
			specs, err := s.Load()
			if err == nil {
				err = apply(specs)
			}
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err.Error())
				continue
			}
			log.Info("configuration reloaded", "backends", len(specs))
		}
	}
}
