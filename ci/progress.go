package main

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// progressInterval is how often a running pipeline says what it is waiting on.
const progressInterval = 10 * time.Second

// progress reports, every progressInterval, the stages still running and how many
// platforms are built, so that no stage is silent for minutes.
type progress struct {
	s        stepper
	mu       sync.Mutex
	running  map[string]time.Time
	built    []string
	done     chan struct{}
	finished sync.WaitGroup
}

func newProgress(s stepper) *progress {
	p := &progress{s: s, running: map[string]time.Time{}, done: make(chan struct{})}
	p.finished.Go(func() {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
				if line := p.line(); line != "" {
					p.s.say("%s", line)
				}
			}
		}
	})
	return p
}

func (p *progress) start(stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[stage] = time.Now()
}

func (p *progress) end(stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, stage)
}

// platformDone records one built platform (BuildAll calls it as each finishes).
func (p *progress) platformDone(platform string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.built = append(p.built, platform)
}

// line is "waiting on lint (40s), test (40s), build (40s: 3/8 platforms: linux/amd64, …)".
func (p *progress) line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.running) == 0 {
		return ""
	}
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " (" + time.Since(p.running[n]).Round(time.Second).String()
		if strings.HasPrefix(n, "build") {
			parts[i] += ", platforms done: " + strings.Join(p.built, " ")
			if len(p.built) == 0 {
				parts[i] += "none yet"
			}
		}
		parts[i] += ")"
	}
	return "waiting on " + strings.Join(parts, ", ")
}

func (p *progress) stop() {
	close(p.done)
	p.finished.Wait()
}
