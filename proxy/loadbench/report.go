package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Goals from the issue: archway-proxy at least as fast as nginx, p99 within 20%.
const (
	goalRPSRatio = 1.0
	goalP99Ratio = 1.2
)

type runResult struct {
	round  int
	shape  string // "t2c64"
	target string
	WrkResult
}

type report struct {
	opts                     options
	nginxVersion, wrkVersion string
	haproxyVersion           string
	splits                   map[string]map[string]int // per front end: colour → requests
	runs                     []runResult
	// loadBefore and loadAfter are /proc/loadavg's 1-minute figure: on a shared
	// machine they say how much else competed for the CPUs.
	loadBefore, loadAfter string
	// startLogs are each archway-proxy configuration's settings from its start log
	// ("engine=epoll gomaxprocs=2 loops=2"): which engine "default" ran.
	startLogs map[string]string
}

func (r *report) add(round int, shape, target string, res WrkResult) {
	r.runs = append(r.runs, runResult{round: round, shape: shape, target: target, WrkResult: res})
}

// summary is the median over the rounds of one target in one shape.
type summary struct {
	rps      float64
	p99, p50 time.Duration
	cpu      time.Duration // CPU time per request
	backCPU  time.Duration // the backends' CPU time per request
	errors   int
}

func (r *report) summary(shape, target string) summary {
	var rps []float64
	var p99, p50, cpu, back []time.Duration
	var s summary
	for _, run := range r.runs {
		if run.target != target || run.shape != shape {
			continue
		}
		rps = append(rps, run.RequestsPerSec)
		p99 = append(p99, run.P99)
		p50 = append(p50, run.P50)
		cpu = append(cpu, run.CPUPerRequest)
		back = append(back, run.BackendCPUPerRequest)
		s.errors += run.Errors
	}
	s.rps, s.p99, s.p50, s.cpu = median(rps), medianDuration(p99), medianDuration(p50), medianDuration(cpu)
	s.backCPU = medianDuration(back)
	return s
}

// frontEnds are the measured front ends in report order: nginx, HAProxy, then each
// archway configuration.
func (r *report) frontEnds() []string {
	names := []string{nginxName, haproxyName}
	for _, at := range r.opts.targets {
		names = append(names, at.name)
	}
	return names
}

// ratios are target's medians over nginx's in shape.
func (r *report) ratios(shape, target string) (rps, p99 float64) {
	rps, p99, _ = r.ratiosOver(shape, target, nginxName)
	return rps, p99
}

// ratiosOver are target's medians over ref's in shape: req/s, p99, CPU per request.
func (r *report) ratiosOver(shape, target, ref string) (rps, p99, cpu float64) {
	n, a := r.summary(shape, ref), r.summary(shape, target)
	if n.rps > 0 {
		rps = a.rps / n.rps
	}
	if n.p99 > 0 {
		p99 = float64(a.p99) / float64(n.p99)
	}
	if n.cpu > 0 {
		cpu = float64(a.cpu) / float64(n.cpu)
	}
	return rps, p99, cpu
}

// goalsMet reports whether target met both goals in every shape without errors on
// either side.
func (r *report) goalsMet(target string) bool {
	for _, sh := range r.opts.shapes {
		rps, p99 := r.ratios(sh.String(), target)
		if rps < goalRPSRatio || p99 > goalP99Ratio || r.summary(sh.String(), nginxName).errors != 0 || r.summary(sh.String(), target).errors != 0 {
			return false
		}
	}
	return true
}

// anyGoalsMet: some shipped engine meets the goals (each is one setting away).
func (r *report) anyGoalsMet() bool {
	for _, at := range r.opts.targets {
		if r.goalsMet(at.name) {
			return true
		}
	}
	return false
}

func formatSplit(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (r *report) print(w io.Writer) {
	o := r.opts
	pin := "unpinned: wrk, front end and backends share all CPUs"
	if o.wrkCPUs+o.frontCPU+o.backendCPUs != "" {
		pin = fmt.Sprintf("taskset: wrk %q, front end %q, backends %q", o.wrkCPUs, o.frontCPU, o.backendCPUs)
	}
	fmt.Fprintf(w, "\n== archway-proxy vs nginx and HAProxy, %d:%d weighted upstream (2 archway-app backends) ==\n", o.blueW, o.greenW)
	fmt.Fprintf(w, "%s; %s; %s; %d CPUs; nginx worker_processes %d = HAProxy nbthread %d = archway-proxy GOMAXPROCS %d; %s\n",
		r.nginxVersion, r.haproxyVersion, r.wrkVersion, runtime.NumCPU(), o.procs, o.procs, o.procs, pin)
	shapes := make([]string, len(o.shapes))
	for i, sh := range o.shapes {
		shapes[i] = sh.String()
	}
	fmt.Fprintf(w, "wrk -d%v --latency in %d shapes (%s; tNcM = -tN -cM), warm-up %v, %d rounds in rotating order; medians below; nginx upstream keepalive %d\n",
		o.duration, len(o.shapes), strings.Join(shapes, ", "), o.warmup, o.rounds, o.keepalive)
	var started []string
	for _, at := range o.targets {
		if s := r.startLogs[at.name]; s != "" {
			started = append(started, at.name+": "+s)
		}
	}
	if len(started) > 0 {
		fmt.Fprintf(w, "archway-proxy start logs: %s\n", strings.Join(started, "; "))
	}
	if r.loadBefore != "" {
		fmt.Fprintf(w, "load average (1 min) before %s, after %s\n", r.loadBefore, r.loadAfter)
	}
	if r.splits != nil {
		var parts []string
		for _, t := range r.frontEnds() {
			parts = append(parts, t+" "+formatSplit(r.splits[t]))
		}
		fmt.Fprintf(w, "split over %d sequential requests (each verified): %s\n", o.splitN, strings.Join(parts, "; "))
	}
	for _, sh := range o.shapes {
		r.printShape(w, sh)
	}
}

// printShape prints the table, the goals and the round-by-round ratios of one shape.
func (r *report) printShape(w io.Writer, sh shape) {
	o, shape := r.opts, sh.String()
	fmt.Fprintf(w, "\n=== %s: wrk -t%d -c%d ===\n", shape, sh.threads, sh.conns)
	fmt.Fprintf(w, "\n| front end | req/s (median) | p50 | p99 | CPU per request | backends' CPU per request | errors | req/s / nginx | p99 / nginx | CPU/req / nginx | req/s / HAProxy | p99 / HAProxy | CPU/req / HAProxy |\n"+
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, t := range r.frontEnds() {
		s := r.summary(shape, t)
		rps, p99, cpu := r.ratiosOver(shape, t, nginxName)
		hrps, hp99, hcpu := r.ratiosOver(shape, t, haproxyName)
		fmt.Fprintf(w, "| %s | %.0f | %v | %v | %.1fµs | %.1fµs | %d | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× |\n", t, s.rps, s.p50.Round(time.Microsecond),
			s.p99.Round(time.Microsecond), float64(s.cpu)/float64(time.Microsecond), float64(s.backCPU)/float64(time.Microsecond), s.errors,
			rps, p99, cpu, hrps, hp99, hcpu)
	}
	fmt.Fprintln(w, "\nCPU per request counts the front-end processes only; it is robust to other load on the machine.")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	for _, at := range r.opts.targets {
		rps, p99 := r.ratios(shape, at.name)
		fmt.Fprintf(w, "%s %s / nginx: req/s %.2f× (goal ≥ %.1f×: %s), p99 %.2f× (goal ≤ %.1f×: %s)\n", shape, at.name,
			rps, goalRPSRatio, verdict(rps >= goalRPSRatio), p99, goalP99Ratio, verdict(p99 <= goalP99Ratio))
	}
	if o.rounds > 1 {
		for _, ref := range []string{nginxName, haproxyName} {
			fmt.Fprintf(w, "\n%s: req/s over %s's in the same round (the machine's speed drifts between rounds; a round's runs of a shape are minutes apart at most):\n", shape, ref)
			for _, at := range r.opts.targets {
				pr := r.pairedRatios(shape, at.name, ref)
				if len(pr) == 0 {
					continue
				}
				sorted := slices.Sorted(slices.Values(pr))
				parts := make([]string, len(pr))
				for i, v := range pr {
					parts[i] = fmt.Sprintf("%.2f", v)
				}
				fmt.Fprintf(w, "%s: %s (median %.2f×, range %.2f–%.2f×)\n", at.name, strings.Join(parts, ", "),
					median(pr), sorted[0], sorted[len(sorted)-1])
			}
		}
	}
}

// pairedRatios are target's req/s over ref's in shape, round by round.
func (r *report) pairedRatios(shape, target, ref string) []float64 {
	nginx := map[int]float64{}
	for _, run := range r.runs {
		if run.target == ref && run.shape == shape {
			nginx[run.round] = run.RequestsPerSec
		}
	}
	var out []float64
	for _, run := range r.runs {
		if n := nginx[run.round]; run.target == target && run.shape == shape && n > 0 {
			out = append(out, run.RequestsPerSec/n)
		}
	}
	return out
}
