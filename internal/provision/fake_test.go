package provision

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
)

// fakeRunner answers commands from a table keyed by "name arg1 arg2…" (prefix match
// on the longest key) and records every call.
type fakeRunner struct {
	mu      sync.Mutex
	answers map[string]fakeAnswer
	paths   map[string]string
	calls   []string
}

type fakeAnswer struct {
	out string
	err error
}

func newFake() *fakeRunner {
	return &fakeRunner{answers: map[string]fakeAnswer{}, paths: map[string]string{}}
}

func (f *fakeRunner) on(cmd, out string, err error) { f.answers[cmd] = fakeAnswer{out, err} }

func (f *fakeRunner) Run(_ context.Context, _ []string, stdin io.Reader, name string, args ...string) (string, error) {
	line := strings.TrimSpace(name + " " + strings.Join(args, " "))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, line)
	if stdin != nil {
		_, _ = io.Copy(io.Discard, stdin)
	}
	best := ""
	for k := range f.answers {
		if strings.HasPrefix(line, k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return "", errors.New("fake: no answer for " + line)
	}
	a := f.answers[best]
	return a.out, a.err
}

func (f *fakeRunner) LookPath(name string) (string, error) {
	if p, ok := f.paths[name]; ok {
		return p, nil
	}
	return "", errors.New("not found: " + name)
}

func (f *fakeRunner) called(prefix string) bool {
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
