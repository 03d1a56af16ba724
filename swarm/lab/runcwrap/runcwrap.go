// Package runcwrap fixes OCI bundles written by a dockerd that runs under qemu-user.
//
// dockerd sets its libnetwork-setkey prestart hook to /proc/<dockerd pid>/exe. Under
// qemu-user (binfmt_misc with the P flag) that link resolves to the qemu interpreter, so
// a native runc would exec qemu with dockerd's hook arguments and fail ("qemu: unknown
// option"). The wrapper rewrites such hook paths to the emulated binary (argv[1] of the
// interpreter process) before it execs the real runc.
package runcwrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var procExe = regexp.MustCompile(`^/proc/([0-9]+)/exe$`)

// Proc is the view of /proc the wrapper needs; tests replace it.
type Proc interface {
	Readlink(path string) (string, error)
	ReadFile(path string) ([]byte, error)
}

// OSProc reads the real /proc.
type OSProc struct{}

// Readlink calls os.Readlink.
func (OSProc) Readlink(p string) (string, error) { return os.Readlink(p) }

// ReadFile calls os.ReadFile.
func (OSProc) ReadFile(p string) ([]byte, error) { return os.ReadFile(p) }

// GuestExe returns the emulated program behind hook path p when p is /proc/<pid>/exe of a
// process run by a qemu interpreter, else "".
func GuestExe(proc Proc, p string) string {
	m := procExe.FindStringSubmatch(p)
	if m == nil {
		return ""
	}
	target, err := proc.Readlink(p)
	if err != nil || !(strings.Contains(target, "qemu") || strings.Contains(target, "binfmt")) {
		return ""
	}
	cmd, err := proc.ReadFile("/proc/" + m[1] + "/cmdline")
	if err != nil {
		return ""
	}
	parts := bytes.Split(cmd, []byte{0})
	if len(parts) < 2 || len(parts[1]) == 0 {
		return ""
	}
	return string(parts[1])
}

// FixSpec rewrites qemu-resolved hook paths in an OCI runtime spec (config.json bytes).
// It returns the new bytes and whether anything changed.
func FixSpec(proc Proc, spec []byte) ([]byte, bool, error) {
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, false, fmt.Errorf("parse config.json: %w", err)
	}
	hooks, _ := doc["hooks"].(map[string]any)
	changed := false
	for _, v := range hooks {
		list, _ := v.([]any)
		for _, h := range list {
			hm, _ := h.(map[string]any)
			if p, ok := hm["path"].(string); ok {
				if g := GuestExe(proc, p); g != "" {
					hm["path"] = g
					changed = true
				}
			}
		}
	}
	if !changed {
		return spec, false, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, false, fmt.Errorf("encode config.json: %w", err)
	}
	return out, true, nil
}

// FixBundle applies FixSpec to <dir>/config.json in place.
func FixBundle(proc Proc, dir string) error {
	f := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	nb, changed, err := FixSpec(proc, b)
	if err != nil || !changed {
		return err
	}
	if err := os.WriteFile(f, nb, 0o644); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// BundleDirs returns the --bundle/-b values of a runc command line.
func BundleDirs(args []string) []string {
	var out []string
	for i, a := range args {
		switch {
		case (a == "--bundle" || a == "-b") && i+1 < len(args):
			out = append(out, args[i+1])
		case strings.HasPrefix(a, "--bundle="):
			out = append(out, strings.TrimPrefix(a, "--bundle="))
		}
	}
	return out
}
