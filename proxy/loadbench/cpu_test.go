package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
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

func TestLoadAverage(t *testing.T) {
	if _, err := os.Stat("/proc/loadavg"); err != nil {
		t.Skip("no /proc/loadavg")
	}
	if la := loadAverage(); la == "" || strings.ContainsAny(la, " \n") {
		t.Errorf("loadAverage() = %q", la)
	}
}
