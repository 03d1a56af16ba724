package main

import (
	"io"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string {
		if k == "HOME" && m[k] == "" {
			return "/root"
		}
		return m[k]
	}
}

func TestParseArgsDefaults(t *testing.T) {
	o, err := parseArgs(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Stage != "all" || o.Registry != "127.0.0.1:5000" || o.ProxyImage != "archway/proxy" || o.AppImage != "archway/app" || o.Tag != "" || o.Load {
		t.Fatalf("defaults: %+v", o)
	}
	if strings.Join(o.Platforms, ",") != strings.Join(DefaultPlatforms, ",") || len(o.Platforms) != 8 {
		t.Fatalf("platforms %v", o.Platforms)
	}
}

func TestParseArgsStagePositionAndEnv(t *testing.T) {
	for _, args := range [][]string{{"publish", "-tag", "v1.2.3"}, {"-tag", "v1.2.3", "publish"}} {
		o, err := parseArgs(args, env(map[string]string{"ARCHWAY_REGISTRY": "10.0.0.5:5001", "ARCHWAY_LOAD": "true", "ARCHWAY_PLATFORMS": "linux/arm/v6, linux/386"}), io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if o.Stage != "publish" || o.Tag != "v1.2.3" || o.Registry != "10.0.0.5:5001" || !o.Load || strings.Join(o.Platforms, ",") != "linux/arm/v6,linux/386" {
			t.Fatalf("%v: %+v", args, o)
		}
	}
	// A good -go-image beats a bad ARCHWAY_GO_IMAGE, which is then nobody's error.
	if o, err := parseArgs([]string{"-go-image", "golang:1.26.0-bookworm"}, env(map[string]string{"ARCHWAY_GO_IMAGE": "not an image"}), io.Discard); err != nil || o.Provision.GoImage != "golang:1.26.0-bookworm" {
		t.Fatalf("-go-image over a bad ARCHWAY_GO_IMAGE: %q %v", o.Provision.GoImage, err)
	}
	// A flag beats its environment variable.
	o, err := parseArgs([]string{"build", "-registry", "127.0.0.1:6000"}, env(map[string]string{"ARCHWAY_REGISTRY": "10.0.0.5:5001"}), io.Discard)
	if err != nil || o.Registry != "127.0.0.1:6000" {
		t.Fatalf("%+v %v", o, err)
	}
}

func TestParseArgsRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"deploy"}, nil, `stage "deploy"`},
		{[]string{"-registry", "localhost"}, nil, `-registry="localhost"`},
		{[]string{"-registry", "127.0.0.1:99999"}, nil, `-registry="127.0.0.1:99999"`},
		{[]string{"-platforms", "linux/amd64,linux/mips"}, nil, `"linux/mips" is not supported`},
		{[]string{"-platforms", "linux/amd64,linux/amd64"}, nil, "listed twice"},
		{[]string{"-platforms", ","}, nil, "no platform"},
		{[]string{"-tag", "bad tag"}, nil, `-tag="bad tag"`},
		{[]string{"-app-image", "Archway/App"}, nil, `-app-image="Archway/App"`},
		{[]string{"-go-image", "not an image"}, nil, `-go-image="not an image"`},
		{nil, map[string]string{"ARCHWAY_LOAD": "yes please"}, `ARCHWAY_LOAD="yes please"`},
		{nil, map[string]string{"ARCHWAY_PLATFORMS": "windows/amd64"}, `ARCHWAY_PLATFORMS="windows/amd64": "windows/amd64" is not supported`},
		// A bad value is named by where it came from: the variable, unless the flag beat it.
		{nil, map[string]string{"ARCHWAY_REGISTRY": "localhost"}, `ARCHWAY_REGISTRY="localhost": want host:port`},
		{[]string{"-registry", "x"}, map[string]string{"ARCHWAY_REGISTRY": "127.0.0.1:5000"}, `-registry="x": want host:port`},
		{nil, map[string]string{"ARCHWAY_TAG": "bad tag"}, `ARCHWAY_TAG="bad tag": not a valid tag`},
		{nil, map[string]string{"ARCHWAY_PROXY_IMAGE": "A/B"}, `ARCHWAY_PROXY_IMAGE="A/B": not a repository name`},
		{nil, map[string]string{"ARCHWAY_SIGN": "maybe"}, `ARCHWAY_SIGN="maybe": want true or false`},
		{nil, map[string]string{"ARCHWAY_GO_IMAGE": "not an image"}, `ARCHWAY_GO_IMAGE="not an image"`},
		{[]string{"lint", "test"}, nil, `unexpected argument "test"`},
	} {
		_, err := parseArgs(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err %v, want %q", tc.args, tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error must be one line: %q", tc.args, err)
		}
	}
}

func TestGoEnvFor(t *testing.T) {
	for p, want := range map[string]string{
		"linux/amd64":   "GOARCH=amd64",
		"linux/arm/v6":  "GOARCH=arm GOARM=6",
		"linux/arm/v7":  "GOARCH=arm GOARM=7",
		"linux/386":     "GO386=sse2 GOARCH=386",
		"linux/riscv64": "GOARCH=riscv64",
	} {
		m, err := goEnvFor(p)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range []string{"GO386", "GOARCH", "GOARM"} {
			if v, ok := m[k]; ok {
				got = append(got, k+"="+v)
			}
		}
		if strings.Join(got, " ") != want || m["GOOS"] != "linux" {
			t.Errorf("%s: %v, want %s", p, m, want)
		}
	}
	for _, bad := range []string{"linux/arm", "linux/arm/v5", "linux/amd64/v3", "darwin/arm64"} {
		if _, err := goEnvFor(bad); err == nil {
			t.Errorf("%s must be rejected", bad)
		}
	}
}
