package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSBOMListsWhatGoVersionReports builds archway-proxy as the pipeline does and
// checks that the SBOM of that file lists exactly the modules `go version -m` reports
// for it (dep lines, or the => replacement compiled in), with their versions and
// hashes, plus std at the binary's Go version.
func TestSBOMListsWhatGoVersionReports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	exe := filepath.Join(t.TempDir(), "archway-proxy")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", exe, "./proxy/cmd/archway-proxy")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	goVersion := ""
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && strings.HasSuffix(f[0], ":"):
			goVersion = f[1]
		case len(f) >= 3 && f[0] == "dep":
			want = append(want, f[1]+"@"+f[2]+" "+strings.Join(f[3:], ""))
		case len(f) >= 3 && f[0] == "=>":
			want[len(want)-1] = f[1] + "@" + f[2] + " " + strings.Join(f[3:], "")
		}
	}
	if len(want) < 3 || goVersion == "" {
		t.Fatalf("go version -m: too little parsed from\n%s", out)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := binarySBOM(b, bi, "/usr/local/bin/archway-proxy", "v1.2.3", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat, SpecVersion, SerialNumber string
		Metadata                             struct {
			Timestamp string
			Component struct {
				Name, Version, Purl string
				Hashes              []struct{ Alg, Content string }
			}
		}
		Components []struct {
			Name, Version, Purl string
			Hashes              []struct{ Alg, Content string }
		}
	}
	if err := json.Unmarshal(doc, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.6" || bom.Metadata.Timestamp != "2023-11-14T22:13:20Z" {
		t.Errorf("header: %s %s %s", bom.BOMFormat, bom.SpecVersion, bom.Metadata.Timestamp)
	}
	if c := bom.Metadata.Component; c.Name != "github.com/archwayhq/archway" || c.Purl != "pkg:golang/github.com/archwayhq/archway@v1.2.3" || len(c.Hashes) != 1 || len(c.Hashes[0].Content) != 64 {
		t.Errorf("main component: %+v", c)
	}
	var got []string
	for _, c := range bom.Components {
		if c.Name == "std" {
			if c.Version != goVersion {
				t.Errorf("std %s, binary built with %s", c.Version, goVersion)
			}
			continue
		}
		if c.Purl != "pkg:golang/"+c.Name+"@"+c.Version {
			t.Errorf("%s: purl %s", c.Name, c.Purl)
		}
		sum := ""
		if len(c.Hashes) == 1 {
			sum = c.Hashes[0].Content
		}
		got = append(got, c.Name+"@"+c.Version+" "+sum)
	}
	// go version -m prints h1:<base64>; the SBOM carries the same SHA-256 in hex.
	for i, w := range want {
		mod, h1, _ := strings.Cut(w, " ")
		want[i] = mod + " " + h1hex(t, h1)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("SBOM modules differ from go version -m:\n got %q\nwant %q", got, want)
	}
	again, _ := binarySBOM(b, bi, "/usr/local/bin/archway-proxy", "v1.2.3", time.Unix(1700000000, 0))
	if !bytes.Equal(doc, again) {
		t.Error("the SBOM of the same binary differs between two runs")
	}
}

func h1hex(t *testing.T, h1 string) string {
	t.Helper()
	if h1 == "" {
		return ""
	}
	c := moduleComponent(&debug.Module{Path: "x", Version: "v0", Sum: h1})
	return (*c.Hashes)[0].Value
}
