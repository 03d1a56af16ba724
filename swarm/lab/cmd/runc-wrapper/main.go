// Command runc-wrapper stands in for runc on lab nodes whose dockerd runs under qemu-user:
// it fixes dockerd's hook paths in the bundle (see package runcwrap) and execs the native
// runc named by ARCHWAY_REAL_RUNC (default /usr/local/lib/archway-native/runc).
package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/archwayhq/archway/swarm/lab/runcwrap"
)

func main() {
	real := os.Getenv("ARCHWAY_REAL_RUNC")
	if real == "" {
		real = "/usr/local/lib/archway-native/runc"
	}
	args := os.Args[1:]
	for _, dir := range runcwrap.BundleDirs(args) {
		if err := runcwrap.FixBundle(runcwrap.OSProc{}, dir); err != nil {
			// runc reports a missing or broken bundle better than we can; go on.
			fmt.Fprintln(os.Stderr, "runc-wrapper:", err)
		}
	}
	err := syscall.Exec(real, append([]string{"runc"}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "runc-wrapper: exec %s: %v\n", real, err)
	os.Exit(127)
}
