package main

import (
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

// The re-read a SIGHUP makes, for every provider: the log level applies, settings
// only a restart applies are named, and a bad file changes nothing.
func TestReloaderRereads(t *testing.T) {
	file := t.TempDir() + "/archway.env"
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("LOG_LEVEL=info\nMAX_FAILS=3\n")
	args := []string{"-config", file, "-backend", "BLUE=http://b:1"}
	start, err := proxy.ParseConfig(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.SyncBuffer
	level := new(slog.LevelVar)
	rr := &reloader{start: start, args: args, level: level, access: newAccessLogSwitch(t), log: slog.New(slog.NewTextHandler(&logs, nil))}

	write("LOG_LEVEL=debug\nMAX_FAILS=3\n")
	if _, err := rr.reread(); err != nil {
		t.Fatal(err)
	}
	if level.Level() != slog.LevelDebug || logs.String() != "" {
		t.Fatalf("after LOG_LEVEL=debug: level %v, logs %q; want debug and no warning", level.Level(), logs.String())
	}

	write("LOG_LEVEL=warn\nMAX_FAILS=7\nENGINE=nethttp\n")
	if _, err := rr.reread(); err != nil {
		t.Fatal(err)
	}
	want := `settings="MAX_FAILS \"3\" -> \"7\", ENGINE \"` + start.Engine + `\" -> \"nethttp\""`
	if level.Level() != slog.LevelWarn || !strings.Contains(logs.String(), want) {
		t.Fatalf("after MAX_FAILS=7: level %v, logs %q; want warn and %s", level.Level(), logs.String(), want)
	}

	write("LOG_LEVEL=error\nMAX_FAILS=-1\n")
	if _, err := rr.reread(); err == nil || !strings.Contains(err.Error(), `MAX_FAILS="-1"`) {
		t.Fatalf("bad file: err %v, want one naming MAX_FAILS", err)
	}
	if level.Level() != slog.LevelWarn {
		t.Fatalf("a bad file changed the level to %v", level.Level())
	}
}

// With a provider that follows its own source, a SIGHUP still re-reads the rest: the
// log level applies and restart-only changes are named.
func TestSIGHUPWithOtherProviderRereads(t *testing.T) {
	file := t.TempDir() + "/archway.env"
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("LOG_LEVEL=info\n")
	args := []string{"-config", file, "-backend", "BLUE=http://b:1"}
	start, err := proxy.ParseConfig(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	start.Provider = "swarm" // as if given; only the provider's name matters here
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	level := new(slog.LevelVar)
	rr := &reloader{start: start, args: args, level: level, access: newAccessLogSwitch(t), log: log}
	reload := watchSIGHUP(t.Context(), start, nil, rr, log)
	write("LOG_LEVEL=debug\nARCHWAY_SWARM_GROUP=edge\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	proxytest.WaitFor(t, "the re-read's log line", 5*time.Second, func() bool {
		return strings.Contains(logs.String(), "configuration re-read; the backends follow the provider")
	})
	if level.Level() != slog.LevelDebug || !strings.Contains(logs.String(), `settings="ARCHWAY_SWARM_GROUP (unset) -> \"edge\""`) {
		t.Fatalf("level %v, logs %q", level.Level(), logs.String())
	}
	select {
	case <-reload:
		t.Fatal("the static provider's reload was signalled for another provider")
	default:
	}
}

// newAccessLogSwitch is an access log switch, off, over a proxy of its own.
func newAccessLogSwitch(t *testing.T) *accessLogSwitch {
	t.Helper()
	s := &accessLogSwitch{p: proxy.New(proxy.Options{Logger: slog.New(slog.DiscardHandler)}), dst: &testutil.SyncBuffer{}, format: "text"}
	t.Cleanup(s.close)
	return s
}

// ACCESS_LOG changes with a SIGHUP's re-read: on, then off, each said in one line.
func TestReloaderTurnsTheAccessLog(t *testing.T) {
	file := t.TempDir() + "/archway.env"
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	args := []string{"-config", file, "-backend", "BLUE=http://b:1"}
	start, err := proxy.ParseConfig(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.SyncBuffer
	access := newAccessLogSwitch(t)
	rr := &reloader{start: start, args: args, level: new(slog.LevelVar), access: access, log: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, step := range []struct {
		file string
		on   bool
		said string // "" for nothing
	}{
		{"ACCESS_LOG=true\n", true, `msg="SIGHUP: access log turned on" access_log=true`},
		{"ACCESS_LOG=true\n", true, ""},
		{"ACCESS_LOG=false\n", false, `msg="SIGHUP: access log turned off" access_log=false`},
		{"ACCESS_LOG=maybe\n", false, ""}, // refused: the switch stays
	} {
		before := len(logs.String())
		write(step.file)
		_, err := rr.reread()
		said := logs.String()[before:]
		if access.p.AccessLogging() != step.on || !strings.Contains(said, step.said) || step.said == "" && said != "" {
			t.Fatalf("%q: access log on %v (err %v), logs %q; want %v and %q", step.file, access.p.AccessLogging(), err, said, step.on, step.said)
		}
	}
}
