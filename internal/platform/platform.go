// Package platform maps what a machine says of itself (uname: the kernel's OS and
// machine names, as a Swarm node reports them in Description.Platform) to the OCI
// platform string images are published for ("linux/amd64", "linux/arm/v7", …). It is
// the one such table in archway: the proxy labels its statistics with it, and the
// Swarm lab and tests use it to say which image variant a node runs.
package platform

import "strings"

// machines maps uname -m values (and Go/OCI architecture names, which some tools
// report instead) to an OCI architecture with its variant. Variants follow
// containerd's normalisation: arm64 has none (v8 is implied), 32-bit arm always has one.
var machines = map[string]string{
	"x86_64": "amd64", "amd64": "amd64", "x64": "amd64",
	"i386": "386", "i486": "386", "i586": "386", "i686": "386", "386": "386", "x86": "386",
	"aarch64": "arm64", "arm64": "arm64", "armv8": "arm64", "arm64/v8": "arm64",
	// armv8l is a 32-bit userland on an ARMv8 CPU: it runs arm/v7 images.
	"armv8l": "arm/v7", "armv7l": "arm/v7", "armv7": "arm/v7", "armhf": "arm/v7", "arm": "arm/v7", "arm/v7": "arm/v7",
	"armv6l": "arm/v6", "armv6": "arm/v6", "armel": "arm/v6", "arm/v6": "arm/v6",
	"armv5l": "arm/v5", "armv5tel": "arm/v5", "armv5tejl": "arm/v5", "arm/v5": "arm/v5",
	"ppc64le": "ppc64le", "ppc64el": "ppc64le",
	"s390x":   "s390x",
	"riscv64": "riscv64",
	"mips64":  "mips64", "mips64le": "mips64le", "mips64el": "mips64le",
	"loongarch64": "loong64", "loong64": "loong64",
}

// oses are the operating systems a node may report (GOOS names, which Docker uses).
var oses = map[string]bool{"linux": true, "windows": true, "freebsd": true, "darwin": true}

// FromUname returns the OCI platform ("os/arch[/variant]") of a machine whose kernel
// reports os (e.g. "linux") and machine (uname -m, e.g. "x86_64", "aarch64", "armv7l"),
// or "" when either is unknown: a wrong platform would put a node's requests under
// another architecture's statistics, an unknown one only under "unknown".
func FromUname(os, machine string) string {
	o := strings.ToLower(strings.TrimSpace(os))
	arch, ok := machines[strings.ToLower(strings.TrimSpace(machine))]
	if !ok || !oses[o] {
		return ""
	}
	return o + "/" + arch
}

// NodeLabel is the Swarm node label naming a node's architecture where uname cannot:
// an i386 engine on an x86_64 kernel reports x86_64, yet pulls and runs the 386 variant
// of every index. The lab sets it on each of its nodes (archway.arch=386, arm/v7, …);
// on a real cluster, `docker node update --label-add archway.arch=386 <node>`. It is
// also usable in placement constraints (node.labels.archway.arch==arm64).
const NodeLabel = "archway.arch"

// OfNode is the platform of a Swarm node: its NodeLabel when set (read as FromUname
// reads a machine name, so "386", "arm/v7" and "armv7l" all work), else its kernel's
// os and machine. "" when unknown.
func OfNode(labels map[string]string, os, machine string) string {
	if a := strings.TrimSpace(labels[NodeLabel]); a != "" {
		return FromUname(os, a)
	}
	return FromUname(os, machine)
}
