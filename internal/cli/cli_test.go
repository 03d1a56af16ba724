package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"testing"
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
