package app

import "syscall"

// unameMachine is `uname -m`. Utsname's fields are [65]int8 on some architectures
// (amd64, 386, arm64) and [65]uint8 on others (arm, ppc64le, s390x, riscv64), so the
// conversion is generic over both rather than one file per architecture.
func unameMachine() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	return utsString(u.Machine[:])
}

// utsString converts a NUL-terminated utsname field to a string.
func utsString[T int8 | uint8](field []T) string {
	b := make([]byte, 0, len(field))
	for _, c := range field {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
