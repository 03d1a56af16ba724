package platform

import "testing"

func TestFromUname(t *testing.T) {
	for _, c := range []struct{ os, machine, want string }{
		{"linux", "x86_64", "linux/amd64"},
		{"Linux", " X86_64 ", "linux/amd64"},
		{"linux", "amd64", "linux/amd64"},
		{"linux", "aarch64", "linux/arm64"},
		{"linux", "arm64", "linux/arm64"},
		{"linux", "armv7l", "linux/arm/v7"},
		{"linux", "armv8l", "linux/arm/v7"},
		{"linux", "armv6l", "linux/arm/v6"},
		{"linux", "armv5tel", "linux/arm/v5"},
		{"linux", "i686", "linux/386"},
		{"linux", "i386", "linux/386"},
		{"linux", "ppc64le", "linux/ppc64le"},
		{"linux", "s390x", "linux/s390x"},
		{"linux", "riscv64", "linux/riscv64"},
		{"linux", "mips64el", "linux/mips64le"},
		{"linux", "loongarch64", "linux/loong64"},
		{"windows", "x86_64", "windows/amd64"},
		{"linux", "", ""},
		{"", "x86_64", ""},
		{"linux", "sparc64", ""},
		{"plan9", "x86_64", ""},
		{"linux", "x86_64/../../etc", ""},
	} {
		if got := FromUname(c.os, c.machine); got != c.want {
			t.Errorf("FromUname(%q, %q) = %q, want %q", c.os, c.machine, got, c.want)
		}
	}
}

func TestOfNode(t *testing.T) {
	cases := []struct {
		labels      map[string]string
		os, machine string
		want        string
	}{
		{nil, "linux", "x86_64", "linux/amd64"},
		// The lab's i386 node: uname says x86_64, the label says what it runs.
		{map[string]string{NodeLabel: "386"}, "linux", "x86_64", "linux/386"},
		{map[string]string{NodeLabel: "arm/v7"}, "linux", "armv7l", "linux/arm/v7"},
		{map[string]string{NodeLabel: " "}, "linux", "aarch64", "linux/arm64"},
		{map[string]string{NodeLabel: "sparc"}, "linux", "x86_64", ""},
	}
	for _, c := range cases {
		if got := OfNode(c.labels, c.os, c.machine); got != c.want {
			t.Errorf("OfNode(%v, %q, %q) = %q, want %q", c.labels, c.os, c.machine, got, c.want)
		}
	}
}
