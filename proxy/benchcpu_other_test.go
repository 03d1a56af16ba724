//go:build !unix

package proxy

import "time"

// cpuTime is unknown here: -1 turns the cpu-ns/op metric off.
func cpuTime() time.Duration { return -1 }
