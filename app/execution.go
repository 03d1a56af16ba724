package app

import (
	"os"
	"slices"
	"strings"
)

// ExecMode tells how the CPU runs this binary.
type ExecMode string

// Execution modes reported by /api/info and the page.
const (
	// Native: the kernel's machine is this binary's architecture.
	Native ExecMode = "native"
	// Compat: a 32-bit binary on the 64-bit kernel of the same family (386 on x86_64,
	// arm on aarch64). The CPU runs it directly; nothing is emulated.
	Compat ExecMode = "compat"
	// Emulated: the instructions are translated, in practice by qemu-user registered
	// with binfmt_misc, which is how Docker runs a foreign-architecture image.
	Emulated ExecMode = "emulated"
	// Unknown: no uname on this OS, or a machine name this table does not know.
	Unknown ExecMode = "unknown"
)

// Execution is the verdict of Classify with the evidence behind it.
type Execution struct {
	Mode ExecMode
	// HostCPU is the CPU family /proc/cpuinfo describes ("x86", "arm", …), empty if
	// it could not be told.
	HostCPU string
	// Note explains the verdict in one sentence for people reading the page.
	Note string
}

// family groups GOARCH values and uname machines that the same silicon runs natively.
type family struct {
	name     string
	goarchs  []string
	machines []string // exact names
	prefixes []string // e.g. "armv" for armv6l/armv7l/armv8l
}

var families = []family{
	{name: "x86", goarchs: []string{"amd64", "386"}, machines: []string{"x86_64", "i386", "i486", "i586", "i686"}},
	{name: "arm", goarchs: []string{"arm64", "arm"}, machines: []string{"aarch64", "arm64", "aarch64_be"}, prefixes: []string{"armv"}},
	{name: "power", goarchs: []string{"ppc64le", "ppc64"}, machines: []string{"ppc64le", "ppc64"}},
	{name: "s390", goarchs: []string{"s390x"}, machines: []string{"s390x"}},
	{name: "riscv", goarchs: []string{"riscv64"}, machines: []string{"riscv64"}},
	{name: "mips", goarchs: []string{"mips", "mipsle", "mips64", "mips64le"}, machines: []string{"mips", "mips64"}},
	{name: "loongarch", goarchs: []string{"loong64"}, machines: []string{"loongarch64"}},
}

// nativeMachines are the uname -m values of a kernel built for goarch itself.
var nativeMachines = map[string][]string{
	"amd64":   {"x86_64"},
	"386":     {"i386", "i486", "i586", "i686"},
	"arm64":   {"aarch64", "arm64", "aarch64_be"},
	"ppc64le": {"ppc64le"},
	"ppc64":   {"ppc64"},
	"s390x":   {"s390x"},
	"riscv64": {"riscv64"},
	"loong64": {"loongarch64"},
}

// NativeMachines lists the uname -m values under which goarch runs natively (arm: any
// "armv*" 32-bit kernel). Compat machines (x86_64 for 386) are not included.
func NativeMachines(goarch string) []string {
	if goarch == "arm" {
		return []string{"armv5*", "armv6l", "armv7l", "armv8l"}
	}
	return nativeMachines[goarch]
}

func familyOfGOARCH(goarch string) *family {
	for i := range families {
		if slices.Contains(families[i].goarchs, goarch) {
			return &families[i]
		}
	}
	return nil
}

func familyOfMachine(machine string) *family {
	for i := range families {
		f := &families[i]
		if slices.Contains(f.machines, machine) {
			return f
		}
		for _, p := range f.prefixes {
			if strings.HasPrefix(machine, p) {
				return f
			}
		}
	}
	return nil
}

// Classify decides how goarch code runs on a kernel reporting machine, with cpuinfo
// (the text of /proc/cpuinfo, possibly empty) as a second witness. Two signals are
// needed because qemu-user answers uname(2) for the guest: an arm/v7 binary under
// qemu on an x86_64 host sees "armv7l", while /proc/cpuinfo (not faked by qemu for
// most targets) still describes the x86 host. A uname that disagrees with GOARCH's
// family is emulation too (some binfmt set-ups pass the host's uname through).
func Classify(goarch, machine, cpuinfo string) Execution {
	host := cpuFamily(cpuinfo)
	want := familyOfGOARCH(goarch)
	if machine == "" || want == nil {
		return Execution{Mode: Unknown, HostCPU: host, Note: "uname -m unavailable or architecture not in the table"}
	}
	if got := familyOfMachine(machine); got != nil && got != want {
		return Execution{Mode: Emulated, HostCPU: host,
			Note: "kernel is " + machine + " (" + got.name + "), binary is " + goarch + ": instructions are emulated (qemu via binfmt_misc)"}
	}
	if host != "" && host != want.name {
		return Execution{Mode: Emulated, HostCPU: host,
			Note: "uname says " + machine + " but /proc/cpuinfo describes a host CPU of the " + host + " family: running under qemu-user, which fakes uname"}
	}
	if slices.Contains(NativeMachines(goarch), machine) || (goarch == "arm" && strings.HasPrefix(machine, "armv")) {
		return Execution{Mode: Native, HostCPU: host, Note: goarch + " binary, " + machine + " kernel: the CPU runs it natively"}
	}
	if familyOfMachine(machine) == want {
		return Execution{Mode: Compat, HostCPU: host,
			Note: "32-bit " + goarch + " binary on a 64-bit " + machine + " kernel: runs natively in compat mode, no emulation"}
	}
	return Execution{Mode: Unknown, HostCPU: host, Note: "machine " + machine + " not in the table"}
}

// cpuFamily recognises the CPU family from the layout of /proc/cpuinfo, which differs
// per architecture (x86 has vendor_id GenuineIntel/AuthenticAMD, arm "CPU implementer", …).
func cpuFamily(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case key == "vendor_id" && strings.Contains(val, "S390"):
			return "s390"
		case key == "vendor_id" || key == "flags" && strings.Contains(val, " sse"):
			return "x86"
		case key == "CPU implementer" || key == "CPU architecture":
			return "arm"
		case key == "cpu" && strings.Contains(strings.ToUpper(val), "POWER"):
			return "power"
		case key == "isa" && strings.HasPrefix(val, "rv"):
			return "riscv"
		case key == "isa" && strings.HasPrefix(val, "mips"), key == "cpu model" && strings.Contains(val, "MIPS"):
			return "mips"
		case key == "CPU Family" && strings.Contains(val, "Loongson"):
			return "loongarch"
		}
	}
	return ""
}

// readCPUInfo returns /proc/cpuinfo or "" where there is none: the verdict then rests
// on uname alone.
func readCPUInfo() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	return string(b)
}
