// Package cli is the exit rule of archway's Swarm commands (demo, release, lab), in
// one place (archway-proxy shares its Shorten): -h is not an error; a bad flag or
// argument is one line and exit 2 (nothing was done); a failure is one line and exit
// 1; Ctrl-C and SIGTERM cancel the context the command runs under, so that it can undo
// or finish what it started.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"unicode/utf8"
)

// Main parses os.Args[1:] with parse, then runs run with the result, and exits as the
// package says. Errors are printed as "<name>: <error>" on standard error.
func Main[O any](name string, parse func(args []string, stderr io.Writer) (O, error), run func(ctx context.Context, o O, stdout io.Writer) error) {
	os.Exit(main(name, os.Args[1:], os.Stdout, os.Stderr, parse, run))
}

// main is Main without the process: it returns the exit code.
func main[O any](name string, args []string, stdout, stderr io.Writer, parse func([]string, io.Writer) (O, error), run func(context.Context, O, io.Writer) error) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, Shorten(name+": "+err.Error()))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, Shorten(name+": "+err.Error()))
		return 1
	}
	return 0
}

// Parse parses args with fs under this package's rule: a bad flag is only the error
// returned (one line, which Main prints), not that line and the whole usage as the
// flag package would print them; -h prints usage, then the flags, on stderr.
func Parse(fs *flag.FlagSet, args []string, usage string, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	return err
}

// MaxErrorLine bounds the one line a command exits with: a value pasted by mistake
// (a 100 KB variable, a file's contents) is shown by its start and its size, not
// repeated whole.
const MaxErrorLine = 1024

// Shorten is s when it fits in MaxErrorLine bytes, else its start (cut at a rune
// boundary) and how many bytes were left out.
func Shorten(s string) string {
	if len(s) <= MaxErrorLine {
		return s
	}
	cut := MaxErrorLine - 40
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}
