// Command loadbench compares archway-proxy with nginx and HAProxy in one run: two
// archway-app backends on loopback, the same 4:1 weighted upstream behind each front
// end (nginx, HAProxy, archway-proxy in each configuration -engines names: "default"
// is the proxy started without -engine, whatever its default engine is; "nethttp",
// "epoll" and "epoll:N" pass -engine), wrk against each in rotating order over several
// rounds and load shapes. Per shape it reports each front end's medians (req/s, p50,
// p99, CPU time per request of the front end and of the backends) and each archway
// configuration's ratios over nginx and over HAProxy, round by round (median and
// min–max over the rounds), with the goals for the default configuration met or
// missed: req/s ≥ 1.1× nginx and ≥ 1.0× HAProxy, p99 ≤ 1.0× nginx, CPU per request
// ≤ 0.8× nginx, no errors (-strict: exit 1 unless all are met in every shape). It
// cleans up every process it started and is bounded by -timeout. Run it from the
// module root (go tool task bench).
//
// Fairness: nginx gets worker_processes = -procs, HAProxy nbthread = -procs and
// archway-proxy GOMAXPROCS = -procs (default: all CPUs, which is what they do by
// default in production: `worker_processes auto`, HAProxy's one thread per CPU and
// Go's GOMAXPROCS). wrk and the backends share the same CPUs unless
// -wrk-cpus/-front-cpus/-backend-cpus pin them with taskset; the report says which.
//
// Load shapes: -shapes lists wrk's threads × connections ("t1c16,t2c64,t2c256"); each
// round measures every shape against every front end, the front ends' order rotating
// per round and shape, and the report has one table per shape. -t and -c still work:
// given explicitly (either one; the other keeps its default, 2 threads or 64
// connections) they are the run's only shape, and giving them with -shapes is an
// error. nginx's upstream keepalive defaults to the largest connection count of the
// shapes, so that it need not close upstream connections that wrk keeps busy.
//
// TLS: with -tls every front end terminates TLS with the same certificate, made for
// the run (a throwaway CA, an ECDSA P-256 leaf for 127.0.0.1, PEM files in the temp
// dir), each configured as in production: nginx `listen … ssl` with TLS 1.2/1.3 and a
// shared session cache, HAProxy `bind … ssl crt` with ssl-min-ver TLSv1.2,
// archway-proxy TLS_CERT_FILE/TLS_KEY_FILE (served by its net/http engine: the epoll
// loops read plain sockets). The backends stay plain HTTP. wrk speaks HTTP/1.1 over
// keep-alive connections, so a run makes few handshakes and measures the cost of TLS
// records; the split checks trust the run's CA and use HTTP/1.1 too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	targets           []archwayTarget
	appBin, proxyBin  string
	nginxBin, wrkBin  string
	haproxyBin        string
	shapes            []shape
	duration, warmup  time.Duration
	rounds            int
	procs             int
	blueW, greenW     int
	keepalive         int
	splitN            int
	splitTolerance    float64
	wrkCPUs, frontCPU string
	backendCPUs       string
	path              string
	timeout           time.Duration
	keep              bool
	proxyEnv          multiFlag
	strict            bool
	tls               bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.appBin, "app", "", "archway-app binary (default: go build ./app/cmd/archway-app into the temp dir)")
	fs.StringVar(&o.proxyBin, "proxy", "", "archway-proxy binary (default: go build ./proxy/cmd/archway-proxy into the temp dir)")
	fs.StringVar(&o.nginxBin, "nginx", "nginx", "nginx binary")
	fs.StringVar(&o.haproxyBin, "haproxy", "haproxy", "HAProxy binary")
	fs.StringVar(&o.wrkBin, "wrk", "wrk", "wrk binary")
	shapes := fs.String("shapes", defaultShapes, "load shapes, comma-separated: tNcM = wrk -tN -cM; each is measured against every front end")
	threads := fs.Int("t", 2, "wrk threads: with -c, the run's one shape instead of -shapes (compatibility)")
	conns := fs.Int("c", 64, "wrk connections: with -t, the run's one shape instead of -shapes (compatibility)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "wrk duration of each measured run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "wrk warm-up before each measured run")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each measures every shape against every front end, order rotating")
	fs.IntVar(&o.procs, "procs", runtime.NumCPU(), "nginx worker_processes, HAProxy nbthread and archway-proxy GOMAXPROCS")
	fs.IntVar(&o.blueW, "blue-weight", 4, "weight of the first backend (BLUE)")
	fs.IntVar(&o.greenW, "green-weight", 1, "weight of the second backend (GREEN)")
	fs.IntVar(&o.keepalive, "keepalive", 0, "nginx upstream keepalive connections per worker (default: the largest -c of the shapes)")
	fs.IntVar(&o.splitN, "split", 1000, "sequential requests counted to verify the split")
	fs.Float64Var(&o.splitTolerance, "split-tolerance", 0.01, "allowed split deviation as a fraction of -split")
	fs.StringVar(&o.wrkCPUs, "wrk-cpus", "", "taskset CPU list for wrk (empty: unpinned)")
	fs.StringVar(&o.frontCPU, "front-cpus", "", "taskset CPU list for nginx, HAProxy and archway-proxy (empty: unpinned)")
	fs.StringVar(&o.backendCPUs, "backend-cpus", "", "taskset CPU list for the two archway-app backends (empty: unpinned)")
	fs.StringVar(&o.path, "path", "/", "request path")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on the whole run (default: rounds × front ends × shapes × (warm-up + -d + 10s) + 3m)")
	fs.Var(&o.proxyEnv, "proxy-env", "extra KEY=VALUE for archway-proxy's environment, repeatable (e.g. CPUPROFILE= with profproxy)")
	fs.BoolVar(&o.tls, "tls", false, "every front end terminates TLS with the same certificate (made for the run, for 127.0.0.1); wrk and the split checks use https (HTTP/1.1), the backends stay plain HTTP")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs, logs, wrk output)")
	engines := fs.String("engines", defaultEngines, "archway-proxy configurations to measure, comma-separated: default (no -engine flag), nethttp, epoll, epoll:N (-engine epoll -loops N)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 unless the default configuration meets every goal in every shape (req/s ≥ 1.1× nginx and ≥ 1.0× HAProxy, p99 ≤ 1.0× nginx, CPU/request ≤ 0.8× nginx, no errors)")
	baseline := fs.String("baseline", "", "another archway-proxy binary (e.g. main's), measured in its default configuration as \"baseline\" beside -engines: an A/B of two builds in one run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.targets, err = targetsFrom(*engines, *baseline); err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.shapes, err = shapesFrom(*shapes, *threads, *conns, set); err != nil {
		return o, err
	}
	if err := o.check(); err != nil {
		return o, err
	}
	if o.keepalive == 0 {
		for _, sh := range o.shapes {
			o.keepalive = max(o.keepalive, sh.conns)
		}
	}
	if o.timeout == 0 {
		o.timeout = runBound(o)
	}
	return o, nil
}

// targetsFrom is the archway-proxy configurations of -engines, with -baseline's binary
// (when given) measured in its default configuration beside them.
func targetsFrom(engines, baseline string) ([]archwayTarget, error) {
	targets, err := parseEngines(engines)
	if err != nil {
		return nil, err
	}
	if baseline != "" {
		if st, err := os.Stat(baseline); err != nil || st.IsDir() {
			return nil, fmt.Errorf("-baseline=%q: want an archway-proxy binary", baseline)
		}
		targets = append(targets, archwayTarget{name: "archway-proxy baseline", entry: "baseline", bin: baseline})
	}
	return targets, nil
}

// shapesFrom is the run's load shapes: -shapes, or the one shape -t/-c names when either
// was given (set holds the flags given).
func shapesFrom(shapes string, threads, conns int, set map[string]bool) ([]shape, error) {
	switch {
	case (set["t"] || set["c"]) && set["shapes"]:
		return nil, fmt.Errorf("-shapes and -t/-c: give one (-t/-c is the single shape t%dc%d)", threads, conns)
	case set["t"] || set["c"]:
		if threads < 1 || conns < threads {
			return nil, fmt.Errorf("-t=%d -c=%d: want t ≥ 1 and c ≥ t", threads, conns)
		}
		return []shape{{threads, conns}}, nil
	}
	return parseShapes(shapes)
}

// check refuses option values a run cannot use, naming the flag and the value.
func (o options) check() error {
	switch {
	case o.strict && !slices.ContainsFunc(o.targets, archwayTarget.isDefault):
		return fmt.Errorf("-strict judges the default configuration: list default in -engines")
	case o.duration < time.Second:
		return fmt.Errorf("-d=%v: want at least 1s", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("-warmup=%v: want ≥ 0", o.warmup)
	case o.timeout < 0:
		return fmt.Errorf("-timeout=%v: want ≥ 0 (0: the bound the run needs)", o.timeout)
	case o.rounds < 1:
		return fmt.Errorf("-rounds=%d: want ≥ 1", o.rounds)
	case o.procs < 1:
		return fmt.Errorf("-procs=%d: want ≥ 1", o.procs)
	case o.blueW < 1 || o.greenW < 1:
		return fmt.Errorf("-blue-weight=%d -green-weight=%d: want both ≥ 1", o.blueW, o.greenW)
	case o.keepalive < 0:
		return fmt.Errorf("-keepalive=%d: want ≥ 1 (0: the largest -c of the shapes)", o.keepalive)
	case o.splitN < 0:
		return fmt.Errorf("-split=%d: want ≥ 0", o.splitN)
	case !(o.splitTolerance >= 0 && o.splitTolerance < 1):
		return fmt.Errorf("-split-tolerance=%v: want a fraction, 0 ≤ f < 1", o.splitTolerance)
	case !strings.HasPrefix(o.path, "/"):
		return fmt.Errorf("-path=%q: want an absolute path", o.path)
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadbench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rep, err := bench(ctx, o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "loadbench: %v\n", err)
		return 1
	}
	if o.strict && !rep.defaultGoalsMet() {
		return 1
	}
	return 0
}

// runBound is the default -timeout: every measurement (rounds × front ends × shapes)
// with its warm-up and 10s for wrk's start and the CPU readings, plus 3 minutes for
// building, starting the processes and the split checks.
func runBound(o options) time.Duration {
	per := o.warmup + o.duration + 10*time.Second
	return time.Duration(o.rounds*o.frontEnds()*len(o.shapes))*per + 3*time.Minute
}

// defaultShapes: a light load (one wrk thread, 16 connections), the load the earlier
// figures used (2 × 64) and a heavy one (2 × 256).
const defaultShapes = "t1c16,t2c64,t2c256"

// shape is one wrk load: threads × connections.
type shape struct{ threads, conns int }

func (s shape) String() string { return fmt.Sprintf("t%dc%d", s.threads, s.conns) }

// parseShapes reads -shapes: "tNcM,…" with N ≥ 1 and M ≥ N, each once.
func parseShapes(list string) ([]shape, error) {
	var out []shape
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		ts, cs, ok := strings.Cut(strings.TrimPrefix(f, "t"), "c")
		t, err1 := strconv.Atoi(ts)
		c, err2 := strconv.Atoi(cs)
		if !strings.HasPrefix(f, "t") || !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("-shapes: %q: want tNcM (wrk -tN -cM), e.g. t2c64", f)
		}
		sh := shape{t, c}
		if t < 1 || c < t {
			return nil, fmt.Errorf("-shapes: %q: want N ≥ 1 threads and M ≥ N connections", f)
		}
		if slices.Contains(out, sh) {
			return nil, fmt.Errorf("-shapes: %q listed twice", f)
		}
		out = append(out, sh)
	}
	return out, nil
}

// rotated is xs starting at index k mod len(xs), wrapping around: round r of shape
// i runs the front ends rotated by r+i, so over len(xs) rounds each front end takes
// every position once in each shape.
func rotated[T any](xs []T, k int) []T {
	k %= len(xs)
	return append(slices.Clone(xs[k:]), xs[:k]...)
}

// frontEnds counts the measured front ends: nginx, HAProxy and each archway target.
func (o options) frontEnds() int { return 2 + len(o.targets) }

// Names of the reference front ends in the report.
const (
	nginxName   = "nginx"
	haproxyName = "HAProxy"
)

// missingTools names the tools of tools (binary → Debian package) that are not
// installed, and one apt-get line that installs them; "" when all are there.
func missingTools(tools [][2]string) string {
	var bins, pkgs []string
	for _, t := range tools {
		if _, err := exec.LookPath(t[0]); err != nil {
			bins, pkgs = append(bins, t[0]), append(pkgs, t[1])
		}
	}
	if len(bins) == 0 {
		return ""
	}
	return fmt.Sprintf("%s not found (Debian: apt-get install %s)", strings.Join(bins, ", "), strings.Join(pkgs, " "))
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, " ") }

func (m *multiFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*m = append(*m, v)
	return nil
}

// defaultEngines are the archway-proxy front ends measured by default: the proxy's
// default configuration (no -engine flag at all, whatever engine that is today) and
// the nethttp engine.
const defaultEngines = "default,nethttp"

// defaultTarget is the -engines entry for archway-proxy started without -engine.
const defaultTarget = "default"

// archwayTarget is one archway-proxy front end: a name for the report, its -engines
// entry and its flags.
type archwayTarget struct {
	name  string
	entry string
	args  []string
	bin   string // the binary, when not -proxy's (-baseline)
}

// isDefault reports whether t is the proxy's default configuration (no -engine flag).
func (t archwayTarget) isDefault() bool { return t.entry == defaultTarget }

// parseEngines reads -engines: "default" (no -engine flag), "nethttp", "epoll" or
// "epoll:N" (N loops). fasthttp was retired from the bench and is refused by name.
func parseEngines(list string) ([]archwayTarget, error) {
	var out []archwayTarget
	seen := map[string]bool{}
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		engine, loops, hasLoops := strings.Cut(e, ":")
		t := archwayTarget{name: "archway-proxy " + e, entry: e, args: []string{"-engine", engine}}
		switch {
		case engine == "fasthttp":
			return nil, fmt.Errorf("-engines: %q: the fasthttp engine was retired; measure default, nethttp, epoll or epoll:N", e)
		case engine == defaultTarget && !hasLoops:
			t.name, t.args = "archway-proxy (default)", nil
		case engine != "nethttp" && engine != "epoll":
			return nil, fmt.Errorf("-engines: %q: want default, nethttp, epoll or epoll:N", e)
		case hasLoops && engine != "epoll":
			return nil, fmt.Errorf("-engines: %q: only epoll takes a loop count", e)
		case hasLoops:
			if n, err := strconv.Atoi(loops); err != nil || n < 1 {
				return nil, fmt.Errorf("-engines: %q: want epoll:N with N ≥ 1", e)
			}
			t.args = append(t.args, "-loops", loops)
		}
		if seen[e] {
			return nil, fmt.Errorf("-engines: %q listed twice", e)
		}
		seen[e] = true
		out = append(out, t)
	}
	return out, nil
}

// target is one front end under test.
type target struct {
	name string
	url  string
	proc *proc
}

// measurer runs the measurements of a bench into rep.
type measurer struct {
	o               options
	rep             *report
	procs, backends []*proc // every child (checked before each run); the backends
	dir             string  // wrk's output goes here
	out             io.Writer
}

// shape runs wrk with shape sh against each of order in turn (a warm-up, then the
// measured run between two readings of the front end's, the backends' and the whole
// machine's CPU time)
// and adds the results to the report.
func (m measurer) shape(ctx context.Context, round int, sh shape, order []target) error {
	o := m.o
	for _, t := range order {
		for _, p := range m.procs {
			if err := p.exited(); err != nil {
				return err
			}
		}
		if o.warmup > 0 {
			if _, _, err := runWrk(ctx, o, sh, t.url, o.warmup); err != nil {
				return fmt.Errorf("warm-up %s %s: %w", sh, t.name, err)
			}
		}
		before, err := m.readCPU(t)
		if err != nil {
			return err
		}
		res, raw, err := runWrk(ctx, o, sh, t.url, o.duration)
		if err != nil {
			return fmt.Errorf("round %d %s %s: %w", round, sh, t.name, err)
		}
		after, err := m.readCPU(t)
		if err != nil {
			return err
		}
		res.addCPU(before, after)
		_ = os.WriteFile(filepath.Join(m.dir, fmt.Sprintf("wrk-%d-%s-%s.txt", round, sh, fileName(t.name))), []byte(raw), 0o644)
		m.rep.add(round, sh.String(), t.name, res)
		fmt.Fprintf(m.out, "round %d %-8s %-24s %10.0f req/s  p50 %8v  p99 %8v  %6.1fµs CPU/req (backends %.1fµs, machine %.1fµs, idle %s, steal %s)  errors %d\n",
			round, sh, t.name, res.RequestsPerSec, res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond),
			float64(res.CPUPerRequest)/float64(time.Microsecond), float64(res.BackendCPUPerRequest)/float64(time.Microsecond),
			float64(res.MachineCPUPerRequest)/float64(time.Microsecond), percent(res.Idle), percent(res.Steal), res.Errors)
	}
	return nil
}

// cpuReading is the CPU time spent so far by a front end, by the backends and by the
// whole machine.
type cpuReading struct {
	front, backends time.Duration
	machine         machineTicks
}

func (m measurer) readCPU(t target) (cpuReading, error) {
	var r cpuReading
	var err error
	if r.front, err = groupCPU(t.proc.cmd.Process.Pid); err != nil {
		return r, fmt.Errorf("%s CPU time: %w", t.name, err)
	}
	if r.backends, err = groupsCPU(m.backends); err != nil {
		return r, fmt.Errorf("backend CPU time: %w", err)
	}
	if r.machine, err = machineCPU(); err != nil {
		return r, fmt.Errorf("machine CPU time: %w", err)
	}
	return r, nil
}

// addCPU fills in res's CPU figures from the readings before and after its run.
func (res *WrkResult) addCPU(before, after cpuReading) {
	busy, idle, steal := after.machine.since(before.machine)
	res.Idle, res.Steal = idle, steal
	if res.Requests > 0 {
		n := time.Duration(res.Requests)
		res.CPUPerRequest = (after.front - before.front) / n
		res.BackendCPUPerRequest = (after.backends - before.backends) / n
		res.MachineCPUPerRequest = busy / n
	}
}

// fileName turns a front end's name into a file name part: letters, digits, '.', '_'
// and '-' kept, any run of other characters one '-' ("archway-proxy (default)" →
// "archway-proxy-default", "epoll:2" → "epoll-2").
func fileName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		if r < 128 && (r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// startSettings picks the engine, GOMAXPROCS and loop count from archway-proxy's
// "archway-proxy starting" log line (slog text or JSON), so the report says which
// engine the default configuration ran ("nethttp (TLS)" under -tls, without loops); "" when the line is not there (profproxy).
func startSettings(log string) string {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "archway-proxy starting") {
			continue
		}
		var parts []string
		for _, key := range []string{"engine", "gomaxprocs", "loops"} {
			for _, pre := range []string{" " + key + "=", `"` + key + `":`} {
				_, rest, ok := strings.Cut(line, pre)
				if !ok {
					continue
				}
				var v string
				if q, ok := strings.CutPrefix(rest, `"`); ok {
					// A quoted value may hold spaces: engine="nethttp (TLS)".
					v, _, _ = strings.Cut(q, `"`)
				} else {
					v, _, _ = strings.Cut(rest, " ")
					v, _, _ = strings.Cut(v, ",")
					v = strings.TrimSuffix(v, "}")
				}
				parts = append(parts, key+"="+v)
				break
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// binary returns path when given, else builds pkg into dest (static, as shipped).
func binary(ctx context.Context, path, pkg, dest string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("binary %q: %w", path, err)
		}
		return path, nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dest, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (run from the module root): %w: %s", pkg, err, strings.TrimSpace(string(b)))
	}
	return dest, nil
}

// runWrk runs one wrk measurement of shape sh against url for d.
func runWrk(ctx context.Context, o options, sh shape, url string, d time.Duration) (WrkResult, string, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	argv := pinned(o.wrkCPUs, o.wrkBin, "-t"+strconv.Itoa(sh.threads), "-c"+strconv.Itoa(sh.conns),
		"-d"+strconv.Itoa(int(d.Round(time.Second)/time.Second))+"s", "--latency", url)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = childAttrs()
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return WrkResult{}, string(b), fmt.Errorf("wrk stopped: %w", context.Cause(ctx))
	}
	if err != nil {
		return WrkResult{}, string(b), fmt.Errorf("wrk: %w: %s", err, firstLines(string(b), 3))
	}
	res, err := ParseWrk(string(b))
	return res, string(b), err
}

// toolVersion is the first line of `tool flag` (nginx and wrk print it to stderr,
// HAProxy to stdout).
func toolVersion(tool, flag string) string {
	b, _ := exec.Command(tool, flag).CombinedOutput()
	return strings.TrimSpace(firstLines(string(b), 1))
}
