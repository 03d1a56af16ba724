package app

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Platform is what this binary was built for and what it runs on. It is computed once
// at start-up: none of it changes while the process lives.
type Platform struct {
	// OS and Arch are runtime.GOOS and runtime.GOARCH.
	OS   string
	Arch string
	// GOARM, GO386 and GOAMD64 are the sub-architecture settings the binary was built
	// with, read from its build information (empty when not applicable or unknown).
	GOARM   string
	GO386   string
	GOAMD64 string
	// Variant is the OCI platform variant ("v6", "v7" for arm; "v2".."v4" for amd64
	// built above the baseline), empty when the image index would not carry one.
	Variant string
	// Machine is the kernel's `uname -m` as this process sees it.
	Machine string
	// Exec says whether the CPU runs this binary natively.
	Exec Execution
}

// String is the OCI-style platform, e.g. "linux/arm/v7" or "linux/amd64".
func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// DetectPlatform reads the build settings, uname and /proc/cpuinfo of this process.
func DetectPlatform() Platform {
	p := Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		p.applyBuildSettings(bi.Settings)
	}
	p.Machine = unameMachine()
	p.Exec = Classify(p.Arch, p.Machine, readCPUInfo())
	return p
}

// applyBuildSettings takes the sub-architecture level from the settings `go build`
// records (GOARM=7, GO386=sse2, GOAMD64=v1, …): the runtime does not export it, and
// injecting it with -ldflags would have to be repeated in every build script.
func (p *Platform) applyBuildSettings(settings []debug.BuildSetting) {
	for _, s := range settings {
		switch s.Key {
		case "GOARM":
			p.GOARM = s.Value
		case "GO386":
			p.GO386 = s.Value
		case "GOAMD64":
			p.GOAMD64 = s.Value
		}
	}
	p.Variant = ociVariant(p.Arch, p.GOARM, p.GOAMD64)
}

// ociVariant maps the Go settings onto the variant names image indexes use.
func ociVariant(goarch, goarm, goamd64 string) string {
	switch goarch {
	case "arm":
		// GOARM may carry a float mode suffix: "7,softfloat".
		level, _, _ := strings.Cut(goarm, ",")
		if level == "" {
			return ""
		}
		return "v" + level
	case "amd64":
		if goamd64 != "" && goamd64 != "v1" {
			return goamd64
		}
	}
	return ""
}
