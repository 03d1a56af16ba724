package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bench is one whole run: the rig up (backends, nginx, HAProxy and each archway-proxy
// configuration), the split checked through every front end, then every round of
// every shape, and the report.
func bench(ctx context.Context, o options, out io.Writer) (*report, error) {
	if err := checkTools(o); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "archway-loadbench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(out, "temp dir (kept): %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	r := &rig{o: o, dir: dir, out: out, scheme: "http", baseEnv: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}}
	defer r.stop()
	steps := []func(context.Context) error{r.buildBinaries, r.makeCerts, r.pickPorts, r.startBackends, r.startNginx, r.startHAProxy, r.startArchways, r.waitReferences}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	rep := &report{opts: r.o, nginxVersion: toolVersion(o.nginxBin, "-v"), haproxyVersion: toolVersion(o.haproxyBin, "-v"),
		wrkVersion: toolVersion(o.wrkBin, "-v"), loadBefore: loadAverage(), startLogs: r.startLogs}
	if err := r.checkSplits(ctx, rep); err != nil {
		return nil, err
	}
	m := measurer{o: r.o, rep: rep, procs: r.procs, backends: r.backends, dir: dir, out: out}
	for round := 0; round < o.rounds; round++ {
		for si, sh := range o.shapes {
			// Rotate the order so that no front end always runs first or last.
			if err := m.shape(ctx, round+1, sh, rotated(r.targets, round+si)); err != nil {
				return nil, err
			}
		}
	}
	rep.loadAfter = loadAverage()
	rep.print(out)
	return rep, nil
}

// checkTools fails with the packages to install when nginx, HAProxy or wrk is
// missing, and when pinning is asked for without taskset.
func checkTools(o options) error {
	if msg := missingTools([][2]string{{o.nginxBin, "nginx-light"}, {o.haproxyBin, "haproxy"}, {o.wrkBin, "wrk"}}); msg != "" {
		return errors.New(msg)
	}
	if o.wrkCPUs+o.frontCPU+o.backendCPUs != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			return fmt.Errorf("CPU pinning needs taskset (util-linux): %w", err)
		}
	}
	return nil
}

// rig is the processes of one run and where to reach them.
type rig struct {
	o       options
	dir     string // temp dir: binaries, configs, logs
	out     io.Writer
	baseEnv []string // every process's environment starts here

	scheme string            // http, or https with -tls
	rt     http.RoundTripper // the split checks' and readiness polls' transport (nil: the default)
	certs  *tlsFiles         // with -tls

	bluePort, greenPort, nginxPort, haproxyPort int
	archwayPorts                                []int // per o.targets: proxy port, admin port

	procs     []*proc // everything started, stopped in reverse order
	backends  []*proc
	nginx     *proc
	haproxy   *proc
	targets   []target          // nginx, HAProxy, then each archway-proxy configuration
	startLogs map[string]string // each archway-proxy's start settings, for the report
}

func (r *rig) blueAddr() string  { return fmt.Sprintf("127.0.0.1:%d", r.bluePort) }
func (r *rig) greenAddr() string { return fmt.Sprintf("127.0.0.1:%d", r.greenPort) }

// frontURL is the URL wrk and the split checks load on a front end's port.
func (r *rig) frontURL(port int) string {
	return fmt.Sprintf("%s://127.0.0.1:%d%s", r.scheme, port, r.o.path)
}

// stop stops every process started, the last first.
func (r *rig) stop() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop(5 * time.Second)
	}
	if r.certs != nil {
		r.certs.transport.CloseIdleConnections()
	}
}

// buildBinaries builds archway-app and archway-proxy into the temp dir unless
// -app-bin / -proxy-bin name them.
func (r *rig) buildBinaries(ctx context.Context) error {
	if r.o.appBin == "" || r.o.proxyBin == "" {
		fmt.Fprintln(r.out, "building archway-app and archway-proxy …")
	}
	var err error
	if r.o.appBin, err = binary(ctx, r.o.appBin, "./app/cmd/archway-app", filepath.Join(r.dir, "archway-app")); err != nil {
		return err
	}
	r.o.proxyBin, err = binary(ctx, r.o.proxyBin, "./proxy/cmd/archway-proxy", filepath.Join(r.dir, "archway-proxy"))
	return err
}

// makeCerts, with -tls, makes the run's certificate and switches the rig to https.
func (r *rig) makeCerts(context.Context) error {
	if !r.o.tls {
		return nil
	}
	var err error
	if r.certs, err = newTLSFiles(filepath.Join(r.dir, "tls")); err != nil {
		return err
	}
	r.scheme, r.rt = "https", r.certs.transport
	return nil
}

// pickPorts picks a free port for each backend and front end (and each archway-proxy's
// admin API).
func (r *rig) pickPorts(context.Context) error {
	ports := make([]int, 4+2*len(r.o.targets))
	for i := range ports {
		var err error
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	r.bluePort, r.greenPort, r.nginxPort, r.haproxyPort = ports[0], ports[1], ports[2], ports[3]
	r.archwayPorts = ports[4:]
	return nil
}

// startBackends starts the two archway-app backends; their text line is the response.
func (r *rig) startBackends(ctx context.Context) error {
	for _, b := range []struct {
		name string
		port int
	}{{"app-blue", r.bluePort}, {"app-green", r.greenPort}} {
		p, err := startProc(b.name, append(slices.Clip(r.baseEnv), "PORT="+strconv.Itoa(b.port)), filepath.Join(r.dir, b.name+".log"),
			pinned(r.o.backendCPUs, r.o.appBin, "-drain", "0s")...)
		if err != nil {
			return err
		}
		r.procs, r.backends = append(r.procs, p), append(r.backends, p)
		if err := waitHTTP(ctx, p, nil, fmt.Sprintf("http://127.0.0.1:%d/readyz", b.port), 15*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// startNginx writes nginx's configuration for the upstream and starts it.
func (r *rig) startNginx(context.Context) error {
	np := NginxParams{Dir: r.dir, Port: r.nginxPort, Workers: r.o.procs, Blue: r.blueAddr(), Green: r.greenAddr(),
		BlueWeight: r.o.blueW, GreenWeight: r.o.greenW, Keepalive: r.o.keepalive}
	if r.certs != nil {
		np.CertFile, np.KeyFile = r.certs.certFile, r.certs.keyFile
	}
	conf, err := RenderNginx(np)
	if err != nil {
		return err
	}
	r.nginx, err = r.startReference(nginxName, "nginx.conf", conf, r.nginxPort, func(confPath string) []string {
		return []string{r.o.nginxBin, "-p", r.dir, "-e", filepath.Join(r.dir, "error.log"), "-c", confPath, "-g", "daemon off;"}
	})
	return err
}

// startHAProxy writes HAProxy's configuration for the upstream and starts it.
func (r *rig) startHAProxy(context.Context) error {
	hp := HAProxyParams{Port: r.haproxyPort, Threads: r.o.procs, Blue: r.blueAddr(), Green: r.greenAddr(),
		BlueWeight: r.o.blueW, GreenWeight: r.o.greenW}
	if r.certs != nil {
		hp.CertFile = r.certs.combinedFile
	}
	conf, err := RenderHAProxy(hp)
	if err != nil {
		return err
	}
	r.haproxy, err = r.startReference(haproxyName, "haproxy.cfg", conf, r.haproxyPort, func(confPath string) []string {
		return []string{r.o.haproxyBin, "-db", "-f", confPath}
	})
	return err
}

// startReference writes a reference front end's configuration conf to confFile in the
// temp dir and starts it with argv(the file's path), pinned like every front end and
// logging to <name>.log; it joins the targets, loaded on port.
func (r *rig) startReference(name, confFile, conf string, port int, argv func(confPath string) []string) (*proc, error) {
	confPath := filepath.Join(r.dir, confFile)
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(name, r.baseEnv, filepath.Join(r.dir, strings.ToLower(name)+".log"), pinned(r.o.frontCPU, argv(confPath)...)...)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	r.targets = append(r.targets, target{name, r.frontURL(port), p})
	return p, nil
}

// startArchways starts one archway-proxy process per configuration, the same settings
// otherwise, and waits until each is ready. -engine is a flag, so it wins over an
// ENGINE given with -proxy-env (which the default configuration, started without
// -engine, does follow). LOADBENCH_TARGET names the configuration for profproxy's
// profile file.
func (r *rig) startArchways(ctx context.Context) error {
	env := append(slices.Clip(r.baseEnv),
		"BLUE=http://"+r.blueAddr(), "GREEN=http://"+r.greenAddr(),
		"BLUE_WEIGHT="+strconv.Itoa(r.o.blueW), "GREEN_WEIGHT="+strconv.Itoa(r.o.greenW),
		"GOMAXPROCS="+strconv.Itoa(r.o.procs))
	if r.certs != nil {
		env = append(env, "TLS_CERT_FILE="+r.certs.certFile, "TLS_KEY_FILE="+r.certs.keyFile)
	}
	env = append(env, r.o.proxyEnv...)
	r.startLogs = map[string]string{}
	for i, at := range r.o.targets {
		port, admin := r.archwayPorts[2*i], r.archwayPorts[2*i+1]
		logPath := filepath.Join(r.dir, fileName(at.name)+".log")
		penv := append(slices.Clip(env), "PORT="+strconv.Itoa(port), "LOADBENCH_TARGET="+fileName(at.entry))
		p, err := startProc(at.name, penv, logPath,
			pinned(r.o.frontCPU, append([]string{cmp.Or(at.bin, r.o.proxyBin), "-admin-addr", fmt.Sprintf("127.0.0.1:%d", admin), "-drain", "0s"}, at.args...)...)...)
		if err != nil {
			return err
		}
		r.procs = append(r.procs, p)
		if err := waitHTTP(ctx, p, r.rt, fmt.Sprintf("%s://127.0.0.1:%d/readyz", r.scheme, port), 15*time.Second); err != nil {
			return err
		}
		if b, err := os.ReadFile(logPath); err == nil {
			r.startLogs[at.name] = startSettings(string(b))
		}
		r.targets = append(r.targets, target{at.name, r.frontURL(port), p})
	}
	return nil
}

// waitReferences waits until nginx and HAProxy answer through to the backends.
func (r *rig) waitReferences(ctx context.Context) error {
	if err := waitHTTP(ctx, r.nginx, r.rt, r.frontURL(r.nginxPort), 15*time.Second); err != nil {
		return err
	}
	return waitHTTP(ctx, r.haproxy, r.rt, r.frontURL(r.haproxyPort), 15*time.Second)
}

// checkSplits, with -split N, sends N requests through every front end and checks
// that each split them by the weights, recording the counts in rep.
func (r *rig) checkSplits(ctx context.Context, rep *report) error {
	if r.o.splitN <= 0 {
		return nil
	}
	weights := map[string]int{"blue": r.o.blueW, "green": r.o.greenW}
	rep.splits = map[string]map[string]int{}
	for _, t := range r.targets {
		colour := colourFromBody
		switch t.name {
		case nginxName:
			colour = colourFromUpstream(map[string]string{r.blueAddr(): "blue", r.greenAddr(): "green"})
		case haproxyName:
			colour = colourFromUpstream(haproxyServers)
		}
		split, err := Split(ctx, r.rt, t.url, r.o.splitN, colour)
		if err != nil {
			return err
		}
		if err := checkSplit(split, weights, r.o.splitN, r.o.splitTolerance); err != nil {
			return fmt.Errorf("%s split: %w", t.name, err)
		}
		rep.splits[t.name] = split
	}
	return nil
}
