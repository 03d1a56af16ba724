package lab

import (
	"bytes"
	"strings"
	"testing"
)

func TestRenderStatus(t *testing.T) {
	rows := []NodeStatus{
		{Node: Node{Name: ManagerName, Arch: "amd64", Addr: "172.17.0.2", Role: "manager"}, EngineArch: "amd64", KernelArch: "x86_64", State: "ready", Availability: "active", Tasks: 1},
		{Node: Node{Name: "archway-lab-armv7", Arch: "arm/v7", Addr: "172.17.0.6", Role: "worker"}, EngineArch: "-", KernelArch: "-", State: "down", Availability: "active", Err: "engine: connection refused"},
	}
	var buf bytes.Buffer
	if err := RenderStatus(&buf, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header + 2 rows, got %d lines:\n%s", len(lines), buf.String())
	}
	if f := strings.Fields(lines[0]); f[0] != "NODE" || !strings.Contains(lines[0], "ENGINE ARCH") || !strings.Contains(lines[0], "TASKS") {
		t.Fatalf("header: %q", lines[0])
	}
	want := [][]string{
		{ManagerName, "manager", "amd64", "amd64", "x86_64", "172.17.0.2", "ready", "active", "1"},
		{"archway-lab-armv7", "worker", "arm/v7", "-", "-", "172.17.0.6", "down", "active", "0", "engine:", "connection", "refused"},
	}
	for i, w := range want {
		if got := strings.Fields(lines[i+1]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("row %d = %q, want %q", i, got, w)
		}
	}
	// Columns line up: every row's ENGINE ARCH starts where the header's does.
	col := strings.Index(lines[0], "ENGINE ARCH")
	if lines[1][col:col+5] != "amd64" {
		t.Errorf("columns misaligned:\n%s", buf.String())
	}
}
