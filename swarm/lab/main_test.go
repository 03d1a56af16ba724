package main

import (
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	c, err := parseArgs([]string{"up", "--arch", "amd64,386,arm64,arm/v7"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cmd != "up" || len(c.arches) != 4 || c.arches[3].Debian != "armhf" || c.suite != "bookworm" || c.mirror != "http://deb.debian.org/debian" {
		t.Fatalf("parsed %+v", c)
	}
	if !c.provision {
		t.Fatal("provision off by default")
	}
	if c, err := parseArgs([]string{"up", "--provision=false"}); err != nil || c.provision {
		t.Fatalf("--provision=false: %+v %v", c, err)
	}
	t.Setenv("ARCHWAY_DEBIAN_MIRROR", "http://mirror.example/debian")
	c, err = parseArgs([]string{"up"})
	if err != nil || len(c.arches) != 4 || c.mirror != "http://mirror.example/debian" {
		t.Fatalf("default arches: %+v %v", c, err)
	}
	if c, err := parseArgs([]string{"check", "--image", "127.0.0.1:5000/archway/app:latest", "--port", "18080"}); err != nil || c.image == "" || c.port != 18080 {
		t.Errorf("check: %+v %v", c, err)
	}
	for _, cmd := range []string{"down", "status", "check"} {
		if c, err := parseArgs([]string{cmd}); err != nil || c.cmd != cmd {
			t.Errorf("%s: %+v %v", cmd, c, err)
		}
	}
}

func TestParseArgsBad(t *testing.T) {
	bad := map[string][]string{
		"usage":                                nil,
		`unknown command "upp"`:                {"upp"},
		`--arch="amd64,sparc"`:                 {"up", "--arch", "amd64,sparc"},
		`--arch=""`:                            {"up", "--arch="},
		`--suite="Bookworm!"`:                  {"up", "--suite", "Bookworm!"},
		`--mirror="ftp://x"`:                   {"up", "--mirror", "ftp://x"},
		"flag provided but not defined: -arch": {"status", "--arch", "x"},
		`unexpected argument "now"`:            {"down", "now"},
		"--port=0":                             {"check", "--port", "0"},
		`--path="api"`:                         {"check", "--path", "api"},
		`invalid value "x" for flag -port`:     {"check", "--port", "x"},
	}
	for want, args := range bad {
		_, err := parseArgs(args)
		if err == nil {
			t.Errorf("%v accepted", args)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %q, want one line containing %q", args, err, want)
		}
	}
}
