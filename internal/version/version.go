// Package version holds the build identity of archway binaries. The variables are
// set at link time with -ldflags "-X"; a plain `go build` leaves the defaults.
package version

// Version and Commit are replaced by the build (ci/ and Taskfile) through -ldflags.
var (
	Version = "dev"
	Commit  = "unknown"
)
