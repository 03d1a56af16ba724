package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"
)

// TestStaticProviderReload: a bad reload keeps the running configuration.
func TestStaticProviderReload(t *testing.T) {
	b, g := &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, &url.URL{Scheme: "http", Host: "127.0.0.1:2"}
	spec := func(name string, w int, u *url.URL) BackendSpec {
		return BackendSpec{Name: name, Weight: w, Members: []*url.URL{u}}
	}
	quiet := slog.New(slog.DiscardHandler)
	p := New(Options{Logger: quiet})
	reload := make(chan struct{})
	type result struct {
		specs []BackendSpec
		err   error
	}
	results := make(chan result, 1)
	results <- result{specs: []BackendSpec{spec("BLUE", 1, b)}}
	prov := &StaticProvider{Logger: quiet, Reload: reload, Load: func() ([]BackendSpec, error) {
		r := <-results
		return r.specs, r.err
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- prov.Run(ctx, p.Apply) }()
	set := func(s []BackendSpec, err error) {
		reload <- struct{}{}
		results <- result{s, err}
	}
	set([]BackendSpec{spec("BLUE", 0, b)}, nil) // all weights 0: refused by apply
	set(nil, io.ErrUnexpectedEOF)               // unreadable config: refused by load
	set([]BackendSpec{spec("BLUE", 1, b), spec("GREEN", 3, g)}, nil)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if s := p.snap.Load(); s != nil && weightList(s.specs) == "BLUE=1 GREEN=3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the good reload was not applied within 5s")
		}
	}
	if p.stats.reloadsBad.Load() != 1 || p.stats.reloadsOK.Load() != 2 {
		t.Errorf("applies ok=%d bad=%d, want 2 and 1", p.stats.reloadsOK.Load(), p.stats.reloadsBad.Load())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
