package app

import (
	"strings"
	"testing"
)

const (
	cpuinfoX86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: fpu vme sse sse2\n"
	cpuinfoARM = "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
	cpuinfoZ   = "vendor_id       : IBM/S390\n# processors    : 2\n"
	cpuinfoPPC = "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\n"
	cpuinfoRV  = "processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc\n"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		goarch, machine, cpuinfo string
		want                     ExecMode
		host                     string
	}{
		{"amd64", "x86_64", cpuinfoX86, Native, "x86"},
		{"arm64", "aarch64", cpuinfoARM, Native, "arm"},
		{"arm", "armv7l", cpuinfoARM, Native, "arm"},
		{"arm", "armv6l", "", Native, ""},
		{"s390x", "s390x", cpuinfoZ, Native, "s390"},
		{"ppc64le", "ppc64le", cpuinfoPPC, Native, "power"},
		{"riscv64", "riscv64", cpuinfoRV, Native, "riscv"},
		// 32-bit on a 64-bit kernel of the same family: compat, not emulation.
		{"386", "x86_64", cpuinfoX86, Compat, "x86"},
		{"arm", "aarch64", cpuinfoARM, Compat, "arm"},
		// qemu-user fakes uname for the guest; cpuinfo still shows the x86 host.
		{"arm", "armv7l", cpuinfoX86, Emulated, "x86"},
		{"arm64", "aarch64", cpuinfoX86, Emulated, "x86"},
		{"s390x", "s390x", cpuinfoX86, Emulated, "x86"},
		{"riscv64", "riscv64", cpuinfoX86, Emulated, "x86"},
		// A host uname passed through: families differ.
		{"arm64", "x86_64", "", Emulated, ""},
		{"amd64", "aarch64", cpuinfoARM, Emulated, "arm"},
		{"amd64", "", cpuinfoX86, Unknown, "x86"},
		{"wasm", "x86_64", "", Unknown, ""},
		{"amd64", "vax", "", Unknown, ""},
	}
	for _, c := range cases {
		got := Classify(c.goarch, c.machine, c.cpuinfo)
		if got.Mode != c.want || got.HostCPU != c.host {
			t.Errorf("Classify(%s, %q, …) = %s host %q (%s); want %s host %q", c.goarch, c.machine, got.Mode, got.HostCPU, got.Note, c.want, c.host)
		}
		if got.Note == "" {
			t.Errorf("Classify(%s, %q): empty note", c.goarch, c.machine)
		}
	}
}

func TestClassifyEmulatedNoteNamesEvidence(t *testing.T) {
	got := Classify("arm", "armv7l", cpuinfoX86)
	if !strings.Contains(got.Note, "qemu") || !strings.Contains(got.Note, "armv7l") {
		t.Errorf("note = %q, want it to name qemu and the machine", got.Note)
	}
}

func TestNativeMachines(t *testing.T) {
	if got := NativeMachines("amd64"); len(got) != 1 || got[0] != "x86_64" {
		t.Errorf("amd64: %v", got)
	}
	if got := NativeMachines("arm"); len(got) == 0 {
		t.Error("arm: empty")
	}
	if got := NativeMachines("wasm"); got != nil {
		t.Errorf("wasm: %v", got)
	}
}
