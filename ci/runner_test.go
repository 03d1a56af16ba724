package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRunner(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := checkRunner(ctx, "tcp://"+addr); err != nil {
		t.Errorf("a listening engine: %v", err)
	}
	ln.Close()
	for _, c := range []struct{ host, want string }{
		{"tcp://" + addr, "the Dagger engine tcp://" + addr + " does not answer"},
		{"unix://" + filepath.Join(t.TempDir(), "engine.sock"), "does not answer"},
		{"::bad", `_EXPERIMENTAL_DAGGER_RUNNER_HOST="::bad": not a URL`},
	} {
		err := checkRunner(ctx, c.host)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line containing %q", c.host, err, c.want)
		}
	}
	if err := checkRunner(ctx, ""); err != nil {
		t.Errorf("no runner host (the CLI's default) is not checked: %v", err)
	}
}
