package app

import (
	"runtime"
	"slices"
	"testing"
)

// Both element types occur in syscall.Utsname depending on GOARCH.
func TestUtsString(t *testing.T) {
	signed := [65]int8{'x', '8', '6', '_', '6', '4'}
	if got := utsString(signed[:]); got != "x86_64" {
		t.Errorf("int8: %q", got)
	}
	unsigned := [65]uint8{'a', 'r', 'm', 'v', '7', 'l', 0, 'j', 'u', 'n', 'k'}
	if got := utsString(unsigned[:]); got != "armv7l" {
		t.Errorf("uint8 stops at NUL: %q", got)
	}
	full := [3]uint8{'a', 'b', 'c'}
	if got := utsString(full[:]); got != "abc" {
		t.Errorf("no NUL: %q", got)
	}
}

// The machine this test runs on must be one this architecture runs natively or in
// compat mode (or, for a foreign test binary under qemu, what qemu reports).
func TestUnameMachineLive(t *testing.T) {
	m := unameMachine()
	if m == "" {
		t.Fatal("uname -m is empty")
	}
	known := slices.Contains(NativeMachines(runtime.GOARCH), m) || familyOfMachine(m) == familyOfGOARCH(runtime.GOARCH)
	if !known {
		t.Errorf("uname -m = %q is not in the %s family", m, runtime.GOARCH)
	}
}
