package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMainExitCodes(t *testing.T) {
	parse := func(args []string, _ io.Writer) (string, error) {
		switch {
		case len(args) == 0:
			return "", errors.New(`-image: missing`)
		case args[0] == "-h":
			return "", flag.ErrHelp
		}
		return args[0], nil
	}
	run := func(_ context.Context, o string, out io.Writer) error {
		if o == "fail" {
			return errors.New("release aborted: green linux/arm/v7 success 97.2% < 99.0%")
		}
		_, err := io.WriteString(out, "ran "+o+"\n")
		return err
	}
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"-h"}, 0, "", ""},
		{nil, 2, "", "release: -image: missing\n"},
		{[]string{"fail"}, 1, "", "release: release aborted: green linux/arm/v7 success 97.2% < 99.0%\n"},
		{[]string{"start"}, 0, "ran start\n", ""},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := main("release", c.args, &out, &errb, parse, run); code != c.code || out.String() != c.stdout || errb.String() != c.stderr {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, out.String(), errb.String(), c.code, c.stdout, c.stderr)
		}
	}
}

// A bad flag is one line (Main prints the error), not that line and the usage; -h
// prints the usage and the flags.
func TestParseOneLine(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.Uint64("min-requests", 1, "least requests")
		return fs
	}
	var stderr strings.Builder
	err := Parse(newFS(), []string{"-min-requests", "-1"}, "usage: x\n", &stderr)
	if err == nil || err.Error() != `invalid value "-1" for flag -min-requests: parse error` || stderr.Len() != 0 {
		t.Errorf("bad flag: %v, stderr %q", err, stderr.String())
	}
	stderr.Reset()
	err = Parse(newFS(), []string{"-h"}, "usage: x\n", &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(stderr.String(), "usage: x\n") || !strings.Contains(stderr.String(), "-min-requests") {
		t.Errorf("-h: %v, stderr %q", err, stderr.String())
	}
}

// A huge value in an error is shown by its start and its size, in one line.
func TestShorten(t *testing.T) {
	if s := Shorten("x: short"); s != "x: short" {
		t.Errorf("short: %q", s)
	}
	long := "BLUE=\"" + strings.Repeat("é", 50000) + "\": bad"
	s := Shorten(long)
	if len(s) > MaxErrorLine || !strings.HasPrefix(s, "BLUE=\"é") || !strings.HasSuffix(s, " more bytes)") || !utf8.ValidString(s) {
		t.Errorf("long: %d bytes, %q…%q", len(s), s[:20], s[len(s)-20:])
	}
}
