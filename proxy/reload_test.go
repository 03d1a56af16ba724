package proxy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every setting has a flag of the name flagName gives it, and the reloaded and secret
// lists name settings only: a renamed setting cannot silently drop out of either.
func TestSettingsListsAgree(t *testing.T) {
	var b, w multiFlag
	fs, _, _ := flagSet(&b, &w)
	for _, env := range settings {
		if fs.Lookup(flagName(env)) == nil {
			t.Errorf("setting %s: no flag -%s", env, flagName(env))
		}
	}
	for _, list := range []map[string]bool{reloadedSettings, secretSettings} {
		for name := range list {
			if !slices.Contains(settings, name) {
				t.Errorf("%s is in a list of settings but no setting", name)
			}
		}
	}
}

func TestRestartOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	writeToken := func(tok string) {
		t.Helper()
		if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	parse := func(args []string, env ...string) *Config {
		t.Helper()
		c, err := ParseConfig(args, append([]string{"BLUE=http://b:1"}, env...))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	writeToken("first-token-0123456789")
	start := parse(nil, "ADMIN_TOKEN_FILE="+tokenFile, "PRESERVE_HOST=false", "MAX_FAILS=3")

	if got := start.RestartOnlyChanges(parse(nil, "ADMIN_TOKEN_FILE="+tokenFile, "MAX_FAILS=3")); got != nil {
		t.Errorf("the same settings (PRESERVE_HOST unset is its default false): %q, want none", got)
	}
	// What SIGHUP applies is never named: backends, weights, COLORS, LOG_LEVEL,
	// ACCESS_LOG.
	if got := start.RestartOnlyChanges(parse(nil, "ADMIN_TOKEN_FILE="+tokenFile, "MAX_FAILS=3",
		"GREEN=http://g:2", "BLUE_WEIGHT=4", "COLORS=BLUE,GREEN", "LOG_LEVEL=debug", "ACCESS_LOG=true")); got != nil {
		t.Errorf("reloaded settings named: %q", got)
	}
	got := start.RestartOnlyChanges(parse(nil, "ADMIN_TOKEN_FILE="+tokenFile, "PRESERVE_HOST=1", "MAX_FAILS=5",
		"HEALTH_PATH=/"+strings.Repeat("p", 100)))
	want := []string{
		`HEALTH_PATH "/healthz" -> "/` + strings.Repeat("p", 63) + `…"`,
		`MAX_FAILS "3" -> "5"`,
		`PRESERVE_HOST "false" -> "true"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("changed:\n got %q\nwant %q", got, want)
	}
	// A rotated token behind the same path is a change; the token is never repeated.
	writeToken("second-token-0123456789")
	got = start.RestartOnlyChanges(parse(nil, "ADMIN_TOKEN_FILE="+tokenFile, "MAX_FAILS=3"))
	if !slices.Equal(got, []string{"ADMIN_TOKEN_FILE"}) {
		t.Errorf("rotated token: %q, want [ADMIN_TOKEN_FILE]", got)
	}
	// The providers' own settings are read once, at start: named too.
	got = start.RestartOnlyChanges(parse(nil, "ADMIN_TOKEN_FILE="+tokenFile, "MAX_FAILS=3", "ARCHWAY_SWARM_GROUP=edge"))
	if !slices.Equal(got, []string{"ADMIN_TOKEN_FILE", `ARCHWAY_SWARM_GROUP (unset) -> "edge"`}) {
		t.Errorf("provider settings: %q", got)
	}
	// A flag counts as its setting.
	got = start.RestartOnlyChanges(parse([]string{"-loops", "2", "-admin-token-file", tokenFile}, "MAX_FAILS=3"))
	if !slices.Equal(got, []string{`LOOPS "0" -> "2"`, "ADMIN_TOKEN_FILE"}) {
		t.Errorf("flags: %q", got)
	}
}
