package lab

import (
	"strings"
	"testing"
)

func TestArchNames(t *testing.T) {
	cases := []struct {
		in                                    string
		name, debian, platform, goarch, goarm string
		suffix, uname                         string
	}{
		{"amd64", "amd64", "amd64", "linux/amd64", "amd64", "", "amd64", "x86_64"},
		{"386", "386", "i386", "linux/386", "386", "", "386", "x86_64"},
		{"i386", "386", "i386", "linux/386", "386", "", "386", "x86_64"},
		{"arm64", "arm64", "arm64", "linux/arm64", "arm64", "", "arm64", "aarch64"},
		{"arm/v7", "arm/v7", "armhf", "linux/arm/v7", "arm", "7", "armv7", "armv7l"},
		{"armhf", "arm/v7", "armhf", "linux/arm/v7", "arm", "7", "armv7", "armv7l"},
		{"linux/arm/v7", "arm/v7", "armhf", "linux/arm/v7", "arm", "7", "armv7", "armv7l"},
		{" ARM64 ", "arm64", "arm64", "linux/arm64", "arm64", "", "arm64", "aarch64"},
	}
	for _, c := range cases {
		a, err := ParseArch(c.in)
		if err != nil {
			t.Fatalf("ParseArch(%q): %v", c.in, err)
		}
		got := []string{a.Name, a.Debian, a.Platform(), a.GOARCH, a.GOARM, a.Suffix, a.Uname}
		want := []string{c.name, c.debian, c.platform, c.goarch, c.goarm, c.suffix, c.uname}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("ParseArch(%q) = %v, want %v", c.in, got, want)
		}
	}
}

func TestEmulatedOnAmd64(t *testing.T) {
	for name, want := range map[string]bool{"amd64": false, "386": false, "arm64": true, "arm/v7": true} {
		a, _ := ParseArch(name)
		if got := a.Emulated("amd64"); got != want {
			t.Errorf("%s.Emulated(amd64) = %v, want %v", name, got, want)
		}
	}
	a, _ := ParseArch("arm64")
	if a.Emulated("arm64") {
		t.Error("arm64 emulated on an arm64 host")
	}
}

func TestByEngineArch(t *testing.T) {
	for goarch, want := range map[string]string{"amd64": "amd64", "386": "386", "arm64": "arm64", "arm": "arm/v7"} {
		a, ok := ByEngineArch(goarch)
		if !ok || a.Name != want {
			t.Errorf("ByEngineArch(%q) = %q, %v; want %q", goarch, a.Name, ok, want)
		}
	}
	if _, ok := ByEngineArch("mips"); ok {
		t.Error("ByEngineArch(mips) found something")
	}
}

func TestParseArchList(t *testing.T) {
	as, err := ParseArchList(DefaultArches)
	if err != nil {
		t.Fatal(err)
	}
	if got := archList(as); got != "amd64,386,arm64,arm/v7" {
		t.Fatalf("default list = %s", got)
	}
	bad := map[string]string{
		"":             "empty",
		"amd64,":       "empty item",
		"amd64,mips":   `unknown architecture "mips"`,
		"arm64,arm64":  "arm64 given twice",
		"armhf,arm/v7": "arm/v7 given twice",
	}
	for in, want := range bad {
		_, err := ParseArchList(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseArchList(%q) error = %v, want one line containing %q", in, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), "--arch=") {
			t.Errorf("ParseArchList(%q) error %q does not name the flag", in, err)
		}
	}
}
