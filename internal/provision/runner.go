package provision

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Runner runs host commands. Provisioning talks to the host only through it so the
// decisions (reuse, install, rebuild) can be tested with a fake.
type Runner interface {
	// Run runs name with args and extra environment (KEY=VALUE) and returns its
	// trimmed stdout. A non-zero exit is an error that carries the stderr tail.
	Run(ctx context.Context, env []string, stdin io.Reader, name string, args ...string) (string, error)
	// LookPath reports where an executable is, as exec.LookPath.
	LookPath(name string) (string, error)
}

// ExecRunner is the Runner of the real host.
type ExecRunner struct {
	// Verbose, when set, receives the commands' stderr as they run (long builds).
	Verbose io.Writer
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, env []string, stdin io.Reader, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	if r.Verbose != nil {
		cmd.Stderr = io.MultiWriter(&stderr, r.Verbose)
	} else {
		cmd.Stderr = &stderr
	}
	err := cmd.Run()
	if err != nil {
		return strings.TrimSpace(stdout.String()), &CmdError{Cmd: name + " " + strings.Join(args, " "), Err: err, Stderr: tail(stderr.String(), 1200)}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// LookPath implements Runner.
func (ExecRunner) LookPath(name string) (string, error) { return exec.LookPath(name) }

// CmdError is a failed host command with the end of its stderr.
type CmdError struct {
	Cmd    string
	Err    error
	Stderr string
}

func (e *CmdError) Error() string {
	cmd := e.Cmd
	if len(cmd) > 160 {
		cmd = cmd[:160] + "…"
	}
	if e.Stderr == "" {
		return fmt.Sprintf("%s: %v", cmd, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", cmd, e.Err, e.Stderr)
}

func (e *CmdError) Unwrap() error { return e.Err }

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
