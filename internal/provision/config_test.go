package provision

import (
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	c, err := ConfigFromEnv(envMap(map[string]string{"HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Home != "/home/u/.cache/archway" || c.CacheHome != "/home/u/.cache" {
		t.Fatalf("defaults: %+v", c)
	}
	if got := c.SDKCLIPath(); got != "/home/u/.cache/dagger/dagger-0.19.10" {
		t.Fatalf("SDK CLI path %s", got)
	}
	c, err = ConfigFromEnv(envMap(map[string]string{"HOME": "/h", "XDG_CACHE_HOME": "/x", "ARCHWAY_HOME": "/a", "ARCHWAY_GO_IMAGE": "golang:1.26.0-bookworm", "ARCHWAY_DAGGER": "build"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Home != "/a" || c.CacheHome != "/x" || c.GoImage != "golang:1.26.0-bookworm" || !c.ForceBuildEngine {
		t.Fatalf("env: %+v", c)
	}
}

func TestConfigFromEnvRejects(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/h", "ARCHWAY_HOME": "rel/dir"}, `ARCHWAY_HOME="rel/dir"`},
		{map[string]string{"HOME": "/h", "ARCHWAY_GO_IMAGE": "Golang 1.26"}, `"Golang 1.26"`},
		{map[string]string{"HOME": "/h", "ARCHWAY_DAGGER": "maybe"}, `ARCHWAY_DAGGER="maybe"`},
		{map[string]string{}, "HOME"},
	} {
		_, err := ConfigFromEnv(envMap(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want mention of %s", tc.env, err, tc.want)
		}
	}
}
