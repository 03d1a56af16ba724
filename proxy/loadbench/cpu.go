package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat: USER_HZ, 100 on every
// Linux architecture Go supports (sysconf(_SC_CLK_TCK) would need cgo).
const userHZ = 100

// fromTicks is n USER_HZ ticks as a duration.
func fromTicks(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// groupCPU sums user+system CPU time of every live process in process group pgid
// (nginx: master and workers). On a shared machine req/s depends on what else runs;
// CPU time per request does much less, so the report shows both.
func groupCPU(pgid int) (time.Duration, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	var ticks int64
	found := false
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		pg, t, err := parseStat(string(b))
		if err != nil || pg != pgid {
			continue
		}
		ticks += t
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no process in group %d", pgid)
	}
	return fromTicks(ticks), nil
}

// groupsCPU sums groupCPU over procs (the backends).
func groupsCPU(procs []*proc) (time.Duration, error) {
	var sum time.Duration
	for _, p := range procs {
		d, err := groupCPU(p.cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// parseStat returns pgrp and utime+stime (ticks) from a /proc/<pid>/stat line. The
// command name may contain spaces and parentheses, so fields count from the last ')'.
func parseStat(s string) (pgrp int, ticks int64, err error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("stat: no ')' in %q", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("stat: %d fields after comm", len(f))
	}
	if pgrp, err = strconv.Atoi(f[2]); err != nil {
		return 0, 0, fmt.Errorf("stat pgrp %q: %w", f[2], err)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("stat utime/stime %q %q", f[11], f[12])
	}
	return pgrp, u + st, nil
}

// machineTicks is the whole machine's CPU time so far, from the "cpu" line of
// /proc/stat, in USER_HZ ticks: busy (user, nice, system, irq, softirq; guest time is
// already inside user), idle (idle, iowait) and steal (time the hypervisor gave to
// other guests while this one wanted to run).
type machineTicks struct{ busy, idle, steal int64 }

// machineCPU reads /proc/stat.
func machineCPU() (machineTicks, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTicks{}, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads the first line of /proc/stat: "cpu  user nice system idle
// iowait irq softirq steal guest guest_nice" (kernels before 2.6.11 stop at softirq:
// no steal).
func parseProcStat(s string) (machineTicks, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return machineTicks{}, fmt.Errorf("/proc/stat: first line %q: want \"cpu\" and at least 7 counters", line)
	}
	var v [8]int64
	for i := 1; i < len(f) && i <= len(v); i++ {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return machineTicks{}, fmt.Errorf("/proc/stat: counter %d %q: %w", i, f[i], err)
		}
		v[i-1] = n
	}
	return machineTicks{busy: v[0] + v[1] + v[2] + v[5] + v[6], idle: v[3] + v[4], steal: v[7]}, nil
}

// since is what the machine did between a and m: its busy CPU time, and the idle and
// steal shares of all its CPU time (0 when no tick passed).
func (m machineTicks) since(a machineTicks) (busy time.Duration, idle, steal float64) {
	b, i, st := m.busy-a.busy, m.idle-a.idle, m.steal-a.steal
	busy = fromTicks(b)
	if total := b + i + st; total > 0 {
		idle, steal = float64(i)/float64(total), float64(st)/float64(total)
	}
	return busy, idle, steal
}

// loadAverage is the 1-minute load average, "" where /proc/loadavg is missing.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
