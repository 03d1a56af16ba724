package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestOCIVariant(t *testing.T) {
	cases := []struct{ goarch, goarm, goamd64, want string }{
		{"arm", "7", "", "v7"},
		{"arm", "6", "", "v6"},
		{"arm", "7,softfloat", "", "v7"},
		{"arm", "", "", ""},
		{"amd64", "", "v1", ""},
		{"amd64", "", "v3", "v3"},
		{"arm64", "", "", ""},
		{"386", "", "", ""},
	}
	for _, c := range cases {
		if got := ociVariant(c.goarch, c.goarm, c.goamd64); got != c.want {
			t.Errorf("ociVariant(%q,%q,%q) = %q, want %q", c.goarch, c.goarm, c.goamd64, got, c.want)
		}
	}
}

func TestApplyBuildSettings(t *testing.T) {
	p := Platform{OS: "linux", Arch: "arm"}
	p.applyBuildSettings([]debug.BuildSetting{{Key: "GOARCH", Value: "arm"}, {Key: "GOARM", Value: "6"}})
	if p.GOARM != "6" || p.Variant != "v6" || p.String() != "linux/arm/v6" {
		t.Errorf("arm: %+v %s", p, p)
	}
	p = Platform{OS: "linux", Arch: "386"}
	p.applyBuildSettings([]debug.BuildSetting{{Key: "GO386", Value: "softfloat"}})
	if p.GO386 != "softfloat" || p.Variant != "" || p.String() != "linux/386" {
		t.Errorf("386: %+v %s", p, p)
	}
}

func TestDetectPlatform(t *testing.T) {
	p := DetectPlatform()
	if p.OS != runtime.GOOS || p.Arch != runtime.GOARCH {
		t.Errorf("got %s/%s", p.OS, p.Arch)
	}
	if runtime.GOOS == "linux" && (p.Machine == "" || p.Exec.Mode == Unknown) {
		t.Errorf("linux: machine %q mode %s", p.Machine, p.Exec.Mode)
	}
}
