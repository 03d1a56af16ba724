//go:build !unix

package enginetest

import "time"

// cpuTime is unknown here: -1 turns the cpu-ns/op metric off.
func cpuTime() time.Duration { return -1 }
