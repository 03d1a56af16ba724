package main

import "syscall"

// childAttrs puts a child in its own process group and kills it if loadbench dies
// without cleaning up (Pdeathsig), so no nginx or proxy outlives a crashed run.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
