// Package lab builds and runs the mixed-architecture Docker Swarm lab: an isolated
// all-Docker-in-Docker Swarm on one machine (a manager plus one worker per requested
// architecture), with node images built from Debian packages and cached.
package lab

import (
	"fmt"
	"strings"
)

// Arch is one CPU architecture the lab can run a node for, under its three names:
// the Docker/OCI platform, the Debian architecture and the Go GOARCH of its dockerd.
type Arch struct {
	// Name is the lab's name, as given to --arch: amd64, 386, arm64, arm/v7.
	Name string
	// Debian is the Debian architecture (debootstrap --arch): amd64, i386, arm64, armhf.
	Debian string
	// GOARCH and GOARM are what a Go program built for this node uses.
	GOARCH, GOARM string
	// Suffix names the node: archway-lab-<Suffix>.
	Suffix string
	// Uname is what `uname -m` says inside the node (the Swarm node platform), e.g. armv7l.
	Uname string
	// Qemu is the binfmt_misc handler name that runs this arch on an x86_64 host.
	Qemu string
}

// Platform is the OCI platform string, e.g. linux/arm/v7.
func (a Arch) Platform() string { return "linux/" + a.Name }

// Emulated reports whether a node of this arch runs its engine under qemu-user on
// host (a Go GOARCH). Only amd64 hosts are supported for emulation (see hybrid.go).
func (a Arch) Emulated(host string) bool {
	switch host {
	case "amd64":
		return a.Name != "amd64" && a.Name != "386"
	default:
		return a.GOARCH != host
	}
}

// Arches lists every architecture the lab knows, in the order nodes are shown.
var Arches = []Arch{
	{Name: "amd64", Debian: "amd64", GOARCH: "amd64", Suffix: "amd64", Uname: "x86_64"},
	// An i386 dockerd on an x86_64 kernel still reports uname x86_64: Swarm schedules it as
	// amd64 and the engine then pulls the 386 variant of an index.
	{Name: "386", Debian: "i386", GOARCH: "386", Suffix: "386", Uname: "x86_64", Qemu: "qemu-i386"},
	{Name: "arm64", Debian: "arm64", GOARCH: "arm64", Suffix: "arm64", Uname: "aarch64", Qemu: "qemu-aarch64"},
	{Name: "arm/v7", Debian: "armhf", GOARCH: "arm", GOARM: "7", Suffix: "armv7", Uname: "armv7l", Qemu: "qemu-arm"},
	// ppc64le works as a hybrid node. s390x builds, but its emulated dockerd cannot create
	// the default bridge (qemu-user's netlink translation for a big-endian guest): the lab
	// reports that node as failed, with the daemon's message, and runs the others.
	{Name: "ppc64le", Debian: "ppc64el", GOARCH: "ppc64le", Suffix: "ppc64le", Uname: "ppc64le", Qemu: "qemu-ppc64le"},
	{Name: "s390x", Debian: "s390x", GOARCH: "s390x", Suffix: "s390x", Uname: "s390x", Qemu: "qemu-s390x"},
}

// DefaultArches is what `up` builds when --arch is not given.
const DefaultArches = "amd64,386,arm64,arm/v7"

func archNames() string {
	names := make([]string, len(Arches))
	for i, a := range Arches {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// ParseArch resolves one architecture by its lab, Debian or platform name
// (arm/v7, armhf, linux/arm/v7 are the same node).
func ParseArch(s string) (Arch, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	k = strings.TrimPrefix(k, "linux/")
	for _, a := range Arches {
		if k == a.Name || k == a.Debian || k == a.Suffix {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("unknown architecture %q (want one of %s)", s, archNames())
}

// ParseArchList parses a comma-separated --arch value. Empty items and duplicates are
// errors rather than silently dropped, so a typo never yields a smaller lab.
func ParseArchList(s string) ([]Arch, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--arch=%q: empty; want a comma-separated list of %s", s, archNames())
	}
	var out []Arch
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		if strings.TrimSpace(item) == "" {
			return nil, fmt.Errorf("--arch=%q: empty item; want a comma-separated list of %s", s, archNames())
		}
		a, err := ParseArch(item)
		if err != nil {
			return nil, fmt.Errorf("--arch=%q: %w", s, err)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("--arch=%q: %s given twice", s, a.Name)
		}
		seen[a.Name] = true
		out = append(out, a)
	}
	return out, nil
}

// ByEngineArch finds the Arch whose dockerd GOARCH is goarch (ServerVersion().Arch).
func ByEngineArch(goarch string) (Arch, bool) {
	for _, a := range Arches {
		if a.GOARCH == goarch {
			return a, true
		}
	}
	return Arch{}, false
}
