package lab

import (
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// binfmtDir is where binfmt_misc is mounted.
var binfmtDir = "/proc/sys/fs/binfmt_misc"

// parseBinfmt reads a binfmt_misc handler file: whether it is enabled and its flags.
func parseBinfmt(content string) (enabled bool, flags string) {
	for _, l := range strings.Split(content, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "enabled":
			enabled = true
		case strings.HasPrefix(l, "flags:"):
			flags = strings.TrimSpace(strings.TrimPrefix(l, "flags:"))
		}
	}
	return enabled, flags
}

const binfmtFix = "apt-get install -y qemu-user-static binfmt-support && update-binfmts --enable (or `go run ./ci setup`)"

// checkEmulation says why arch a cannot run emulated on host, or "" if it can. The F flag
// is needed so the interpreter works inside containers, whose rootfs lacks it.
func checkEmulation(host string, a Arch) string {
	if host != "amd64" {
		return fmt.Sprintf("%s needs emulation, supported on x86_64 hosts only (this host is %s): run the node on real %s hardware", a.Name, host, a.Name)
	}
	b, err := os.ReadFile(filepath.Join(binfmtDir, a.Qemu))
	if err != nil {
		return fmt.Sprintf("%s skipped: no binfmt_misc handler %s; fix: %s", a.Name, a.Qemu, binfmtFix)
	}
	enabled, flags := parseBinfmt(string(b))
	if !enabled {
		return fmt.Sprintf("%s skipped: binfmt_misc handler %s is disabled; fix: update-binfmts --enable %s", a.Name, a.Qemu, a.Qemu)
	}
	if !strings.Contains(flags, "F") {
		return fmt.Sprintf("%s skipped: binfmt_misc handler %s lacks the F flag (flags %q); fix: apt-get install -y qemu-user-static (registers with F)", a.Name, a.Qemu, flags)
	}
	return ""
}

// checkBuildTools says why node images cannot be built here, or "".
func checkBuildTools(foreign bool) string {
	if os.Geteuid() != 0 {
		return "building node images needs root (debootstrap); fix: run as root, or `docker load` images from $ARCHWAY_HOME/lab/images of a machine that built them"
	}
	tools := []string{"debootstrap", "tar", "cp"}
	if foreign {
		tools = append(tools, "dpkg-deb")
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Sprintf("building node images needs %s; fix: apt-get install -y debootstrap", t)
		}
	}
	return ""
}

// privilegedWorks reports whether `docker run --privileged` can work: the engine grants
// every capability up to lastCap, which fails when the bounding set lacks one (this VM
// lacks CAP_SYS_RESOURCE: "unable to apply caps").
func privilegedWorks(procStatus string, lastCap int) bool {
	for _, l := range strings.Split(procStatus, "\n") {
		v, ok := strings.CutPrefix(l, "CapBnd:")
		if !ok {
			continue
		}
		n, ok := new(big.Int).SetString(strings.TrimSpace(v), 16)
		if !ok {
			return false
		}
		for i := 0; i <= lastCap; i++ {
			if n.Bit(i) == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// detectPrivileged checks the bounding set of the running dockerd (same kernel, the lab
// is for one machine), falling back to our own.
func detectPrivileged() bool {
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	status := "/proc/self/status"
	if b, err := os.ReadFile("/var/run/docker.pid"); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" {
			if _, err := os.Stat("/proc/" + p + "/status"); err == nil {
				status = "/proc/" + p + "/status"
			}
		}
	}
	b, err := os.ReadFile(status)
	if err != nil {
		return false
	}
	return privilegedWorks(string(b), last)
}
