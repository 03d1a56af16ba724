package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := "4242 (nginx: worker (x)) S 4240 4240 4240 0 -1 4194624 1000 0 0 0 250 125 0 0 20 0 1 0 100 1000000 500 18446744073709551615\n"
	pg, ticks, err := parseStat(line)
	if err != nil || pg != 4240 || ticks != 375 {
		t.Errorf("got %d %d %v", pg, ticks, err)
	}
	if _, _, err := parseStat("garbage"); err == nil {
		t.Error("garbage accepted")
	}
	if _, _, err := parseStat("1 (x) S 1 2"); err == nil {
		t.Error("short line accepted")
	}
}

func TestGroupCPUSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// Burn a little CPU so the group total is visibly non-zero.
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i % 7
	}
	_ = x
	d, err := groupCPU(syscall.Getpgrp())
	if err != nil || d <= 0 {
		t.Errorf("groupCPU(own group) = %v, %v", d, err)
	}
	if _, err := groupCPU(1 << 30); err == nil {
		t.Error("nonexistent group accepted")
	}
}

func TestParseProcStat(t *testing.T) {
	m, err := parseProcStat("cpu  100 5 50 800 20 3 7 15 0 0\ncpu0 50 2 25 400 10 1 3 7 0 0\n")
	if err != nil || m != (machineTicks{busy: 165, idle: 820, steal: 15}) {
		t.Errorf("got %+v, %v", m, err)
	}
	// A kernel without the steal column (before 2.6.11): no steal.
	if m, err := parseProcStat("cpu 1 2 3 4 5 6 7"); err != nil || m != (machineTicks{busy: 19, idle: 9}) {
		t.Errorf("seven counters: %+v, %v", m, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if _, err := parseProcStat(bad); err == nil || !strings.Contains(err.Error(), "/proc/stat") {
			t.Errorf("%q: err %v, want one naming /proc/stat", bad, err)
		}
	}
}

func TestMachineTicksSince(t *testing.T) {
	a := machineTicks{busy: 1000, idle: 500, steal: 10}
	busy, idle, steal := machineTicks{busy: 1150, idle: 540, steal: 20}.since(a)
	if busy != 1500*time.Millisecond || !near(idle, 0.2) || !near(steal, 0.05) {
		t.Errorf("got %v %v %v, want 1.5s 0.2 0.05", busy, idle, steal)
	}
	if busy, idle, steal := a.since(a); busy != 0 || idle != 0 || steal != 0 {
		t.Errorf("no tick passed: %v %v %v", busy, idle, steal)
	}
}

func TestAddCPU(t *testing.T) {
	before := cpuReading{front: time.Second, backends: 2 * time.Second, machine: machineTicks{busy: 100, idle: 100}}
	after := cpuReading{front: 1100 * time.Millisecond, backends: 2300 * time.Millisecond, machine: machineTicks{busy: 160, idle: 140}}
	res := WrkResult{Requests: 1000}
	res.addCPU(before, after)
	if res.CPUPerRequest != 100*time.Microsecond || res.BackendCPUPerRequest != 300*time.Microsecond ||
		res.MachineCPUPerRequest != 600*time.Microsecond || !near(res.Idle, 0.4) || res.Steal != 0 {
		t.Errorf("got %+v", res)
	}
	// No request answered: no per-request figure (and no division by zero), the shares still.
	res = WrkResult{}
	res.addCPU(before, after)
	if res.CPUPerRequest != 0 || res.MachineCPUPerRequest != 0 || !near(res.Idle, 0.4) {
		t.Errorf("no requests: %+v", res)
	}
}

func TestLoadAverage(t *testing.T) {
	if _, err := os.Stat("/proc/loadavg"); err != nil {
		t.Skip("no /proc/loadavg")
	}
	if la := loadAverage(); la == "" || strings.ContainsAny(la, " \n") {
		t.Errorf("loadAverage() = %q", la)
	}
}
