//go:build !linux

package main

import "syscall"

// childAttrs puts a child in its own process group (no Pdeathsig outside Linux).
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
