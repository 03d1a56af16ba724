package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
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

// metric is one figure of a run that the report compares between front ends.
type metric int

const (
	reqPerSec metric = iota
	p50
	p99
	cpuPerRequest
	// machineCPUPerRequest and busyShare split req/s: it is the CPUs times the busy
	// share over the whole machine's CPU per request, so a req/s ratio is the busy
	// ratio over the machine-CPU ratio.
	machineCPUPerRequest
	busyShare
)

var metricNames = [...]string{reqPerSec: "req/s", p50: "p50", p99: "p99", cpuPerRequest: "CPU/request",
	machineCPUPerRequest: "machine's CPU/request", busyShare: "busy share"}

func (m metric) String() string { return metricNames[m] }

func (m metric) of(res WrkResult) float64 {
	switch m {
	case reqPerSec:
		return res.RequestsPerSec
	case p50:
		return float64(res.P50)
	case p99:
		return float64(res.P99)
	case machineCPUPerRequest:
		return float64(res.MachineCPUPerRequest)
	case busyShare:
		return 1 - res.Idle
	default:
		return float64(res.CPUPerRequest)
	}
}

// goal is one line the default configuration has to meet in every shape: the median
// over the rounds of its metric over the reference's, at least or at most limit.
type goal struct {
	metric  metric
	ref     string
	limit   float64
	atLeast bool
}

// goals: faster than nginx by a tenth and at least as fast as HAProxy, a p99 no worse
// than nginx's and a fifth less CPU per request than nginx.
var goals = []goal{
	{reqPerSec, nginxName, 1.1, true},
	{reqPerSec, haproxyName, 1.0, true},
	{p99, nginxName, 1.0, false},
	{cpuPerRequest, nginxName, 0.8, false},
}

func (g goal) String() string {
	op := "≤"
	if g.atLeast {
		op = "≥"
	}
	return fmt.Sprintf("%s %s %.1f× %s", g.metric, op, g.limit, g.ref)
}

func (g goal) met(ratio float64) bool {
	if math.IsNaN(ratio) {
		return false
	}
	if g.atLeast {
		return ratio >= g.limit
	}
	return ratio <= g.limit
}

// summary is the median over the rounds of one target in one shape.
type summary struct {
	rps      float64
	p99, p50 time.Duration
	cpu      time.Duration // CPU time per request
	backCPU  time.Duration // the backends' CPU time per request
	machCPU  time.Duration // the whole machine's busy CPU time per request
	idle     float64       // the machine's idle share
	steal    float64       // the share the hypervisor took
	errors   int
}

func (r *report) summary(shape, target string) summary {
	var rps []float64
	var idle, steal []float64
	var p99, p50, cpu, back, mach []time.Duration
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
		mach = append(mach, run.MachineCPUPerRequest)
		idle, steal = append(idle, run.Idle), append(steal, run.Steal)
		s.errors += run.Errors
	}
	s.rps, s.p99, s.p50, s.cpu = median(rps), medianDuration(p99), medianDuration(p50), medianDuration(cpu)
	s.backCPU, s.machCPU = medianDuration(back), medianDuration(mach)
	s.idle, s.steal = median(idle), median(steal)
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

// spread is a ratio over the rounds: its median, smallest and largest value and how
// many rounds had both runs. The ratio of a round is target's run over the
// reference's run of the same round and shape, minutes apart at most, so that the
// machine's drift between rounds does not enter it.
type spread struct {
	median, min, max float64
	n                int
}

func (s spread) String() string {
	switch s.n {
	case 0:
		return "–"
	case 1:
		return fmt.Sprintf("%.2f×", s.median)
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", s.median, s.min, s.max)
}

// spreadOf is xs's median and range; a NaN median when xs is empty (no goal is met by it).
func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{median: math.NaN()}
	}
	return spread{median: median(xs), min: slices.Min(xs), max: slices.Max(xs), n: len(xs)}
}

// ratio is target's m over ref's in shape, round by round. A round where either side
// has no measure of m (zero: a CPU reading the machine did not give, a run that served
// nothing) has no ratio, rather than a 0× or an infinite one; with no round left the
// ratio is unmeasured and meets no goal.
func (r *report) ratio(shape, target, ref string, m metric) spread {
	refs := map[int]float64{}
	for _, run := range r.runs {
		if run.target == ref && run.shape == shape {
			refs[run.round] = m.of(run.WrkResult)
		}
	}
	var xs []float64
	for _, run := range r.runs {
		if run.target != target || run.shape != shape {
			continue
		}
		if d, v := refs[run.round], m.of(run.WrkResult); d > 0 && v > 0 {
			xs = append(xs, v/d)
		}
	}
	return spreadOf(xs)
}

// cleanIn reports whether target and both references answered every request of
// shape without an error: a fast proxy that answers 502 must not meet a goal.
func (r *report) cleanIn(shape, target string) bool {
	for _, t := range []string{target, nginxName, haproxyName} {
		if r.summary(shape, t).errors != 0 {
			return false
		}
	}
	return true
}

// missedGoals lists what target missed, "t2c64 req/s ≥ 1.1× nginx" for each shape and
// goal, and "t2c64 errors" where a run answered with errors; nil when it met all.
func (r *report) missedGoals(target string) []string {
	var missed []string
	for _, sh := range r.opts.shapes {
		for _, g := range goals {
			if !g.met(r.ratio(sh.String(), target, g.ref, g.metric).median) {
				missed = append(missed, sh.String()+" "+g.String())
			}
		}
		if !r.cleanIn(sh.String(), target) {
			missed = append(missed, sh.String()+" errors")
		}
	}
	return missed
}

// defaultTargetName is the report name of the default configuration, "" when
// -engines did not include it.
func (r *report) defaultTargetName() string {
	for _, at := range r.opts.targets {
		if at.isDefault() {
			return at.name
		}
	}
	return ""
}

// defaultGoalsMet: the default configuration was measured and met every goal in
// every shape (what -strict asks).
func (r *report) defaultGoalsMet() bool {
	name := r.defaultTargetName()
	return name != "" && len(r.missedGoals(name)) == 0
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

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

// plural is "1 round", "3 rounds".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}

// percent is a share as "7.5%".
func percent(share float64) string { return fmt.Sprintf("%.1f%%", 100*share) }

// saturatedCPUGoal is, round by round in shape, the CPU per request (as a ratio to
// nginx's) that a front end would need for limit× nginx's req/s were the machine
// saturated in both runs: then req/s is the CPUs over the whole machine's CPU per
// request, and if the rest (wrk, backends) costs the same per request behind either
// front end, the front end has to save (1 − 1/limit) of nginx's whole-machine figure
// out of nginx's own. With the backends taking most of the machine this is well below
// the CPU goal's 0.8×; where the machine was idle, req/s was not set by CPU and the
// figure is a bound only.
func (r *report) saturatedCPUGoal(shape string, limit float64) spread {
	var xs []float64
	for _, run := range r.runs {
		if run.target == nginxName && run.shape == shape && run.CPUPerRequest > 0 {
			xs = append(xs, 1-float64(run.MachineCPUPerRequest)*(1-1/limit)/float64(run.CPUPerRequest))
		}
	}
	return spreadOf(xs)
}

func (r *report) print(w io.Writer) {
	o := r.opts
	pin := "unpinned: wrk, front end and backends share all CPUs"
	if o.wrkCPUs+o.frontCPU+o.backendCPUs != "" {
		pin = fmt.Sprintf("taskset: wrk %q, front end %q, backends %q", o.wrkCPUs, o.frontCPU, o.backendCPUs)
	}
	over := ""
	if o.tls {
		over = " over TLS (HTTPS, HTTP/1.1)"
	}
	fmt.Fprintf(w, "\n== archway-proxy vs nginx and HAProxy%s, %d:%d weighted upstream (2 archway-app backends) ==\n", over, o.blueW, o.greenW)
	if o.tls {
		fmt.Fprintln(w, "TLS: every front end serves the same certificate (ECDSA P-256 for 127.0.0.1, a CA made for the run): "+
			"nginx listen ssl (ssl_protocols TLSv1.2 TLSv1.3, ssl_session_cache shared:SSL:10m), HAProxy bind ssl crt (ssl-min-ver TLSv1.2), "+
			"archway-proxy TLS_CERT_FILE/TLS_KEY_FILE (HTTPS is served by its net/http engine, whatever -engine says); the backends stay plain HTTP. "+
			"wrk keeps its connections alive, so there are few handshakes (one per connection and wrk run): this measures TLS record overhead, "+
			"over HTTP/1.1 (wrk has no HTTP/2).")
	}
	fmt.Fprintf(w, "%s; %s; %s; %d CPUs; nginx worker_processes %d = HAProxy nbthread %d = archway-proxy GOMAXPROCS %d; %s\n",
		r.nginxVersion, r.haproxyVersion, r.wrkVersion, runtime.NumCPU(), o.procs, o.procs, o.procs, pin)
	shapes := make([]string, len(o.shapes))
	for i, sh := range o.shapes {
		shapes[i] = sh.String()
	}
	fmt.Fprintf(w, "wrk -d%v --latency in %s (%s; tNcM = -tN -cM), warm-up %v, %s, front ends in rotating order; nginx upstream keepalive %d\n",
		o.duration, plural(len(o.shapes), "shape"), strings.Join(shapes, ", "), o.warmup, plural(o.rounds, "round"), o.keepalive)
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
	fmt.Fprintln(w, "CPU per request counts the front-end processes only; it is robust to other load on the machine.")
	fmt.Fprintln(w, "A ratio is a front end's run over the reference's run of the same round and shape (minutes apart at most): median over the rounds, (min–max) their spread.")
	fmt.Fprintln(w, "The machine's CPU per request is all its busy CPU time (wrk, front end, backends, the rest) per request; idle and steal (the hypervisor's share for other guests) are of all its CPU time, from /proc/stat. "+
		"req/s is the CPUs × the busy share (1 − idle) ÷ the machine's CPU per request, so a req/s ratio is the busy-share ratio ÷ the machine's-CPU ratio: doing less work per request, or leaving the CPUs idle less.")
	for _, sh := range o.shapes {
		r.printShape(w, sh)
	}
	name := r.defaultTargetName()
	if name == "" {
		fmt.Fprintln(w, "\nThe default configuration was not measured (-engines lacks default): no verdict.")
		return
	}
	if missed := r.missedGoals(name); len(missed) > 0 {
		fmt.Fprintf(w, "\n%s: goals MISSED (shape, goal): %s\n", name, strings.Join(missed, "; "))
	} else {
		fmt.Fprintf(w, "\n%s: every goal MET in every shape\n", name)
	}
}

// printShape prints one shape's medians, ratios and goals.
func (r *report) printShape(w io.Writer, sh shape) {
	shape := sh.String()
	fmt.Fprintf(w, "\n=== %s: wrk -t%d -c%d ===\n", shape, sh.threads, sh.conns)
	fmt.Fprintf(w, "\n| front end | req/s (median) | p50 | p99 | CPU per request | backends' CPU per request | machine's CPU per request | idle | steal | errors |\n"+
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, t := range r.frontEnds() {
		s := r.summary(shape, t)
		fmt.Fprintf(w, "| %s | %.0f | %v | %v | %s | %s | %s | %s | %s | %d |\n", t, s.rps, s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond),
			micros(s.cpu), micros(s.backCPU), micros(s.machCPU), percent(s.idle), percent(s.steal), s.errors)
	}

	fmt.Fprintf(w, "\n| ratio, %s | req/s | p50 | p99 | CPU per request | machine's CPU per request | busy share |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
		plural(r.opts.rounds, "round"))
	row := func(target, ref string) {
		cells := []string{target + " / " + ref}
		for _, m := range []metric{reqPerSec, p50, p99, cpuPerRequest, machineCPUPerRequest, busyShare} {
			cells = append(cells, r.ratio(shape, target, ref, m).String())
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	for _, at := range r.opts.targets {
		row(at.name, nginxName)
		row(at.name, haproxyName)
	}
	row(haproxyName, nginxName)

	header := []string{"goal (median ratio)"}
	for _, at := range r.opts.targets {
		header = append(header, at.name)
	}
	fmt.Fprintf(w, "\n| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
	for _, g := range goals {
		cells := []string{g.String()}
		for _, at := range r.opts.targets {
			s := r.ratio(shape, at.name, g.ref, g.metric)
			v := "–"
			if s.n > 0 {
				v = fmt.Sprintf("%.2f×", s.median)
			}
			cells = append(cells, v+" "+verdict(g.met(s.median)))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	cells := []string{"no errors (it, nginx, HAProxy)"}
	for _, at := range r.opts.targets {
		cells = append(cells, verdict(r.cleanIn(shape, at.name)))
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	if s := r.saturatedCPUGoal(shape, goals[0].limit); s.n > 0 {
		fmt.Fprintf(w, "\nWere the machine saturated (idle %s with nginx), %s would need CPU/request ≤ %s nginx's, the rest costing the same per request.\n",
			percent(r.summary(shape, nginxName).idle), goals[0], s)
	}
}
