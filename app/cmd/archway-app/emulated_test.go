package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/testutil"
)

// TestForeignBuilds cross-builds archway-app and runs it on this amd64 host: linux/386
// runs natively in compat mode, linux/arm/v7 through the qemu-user binfmt handler.
// /api/info must report the build's sub-architecture, the machine the process sees
// (qemu fakes armv7l) and the execution mode. A case is skipped where its runner is
// missing.
func TestForeignBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds: not in -short")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs a linux/amd64 host")
	}
	cases := []struct {
		name, goarch, goarmEnv, binfmt string
		platform, machine, execution   string
		check                          func(info foreignInfo) bool
	}{
		{name: "386 compat", goarch: "386", platform: "linux/386", machine: "x86_64", execution: "compat",
			check: func(i foreignInfo) bool { return i.GO386 == "sse2" && !i.Emulated }},
		{name: "arm/v7 under qemu", goarch: "arm", goarmEnv: "7", binfmt: "qemu-arm", platform: "linux/arm/v7", machine: "armv7l", execution: "emulated",
			check: func(i foreignInfo) bool { return i.GOARM == "7" && i.Variant == "v7" && i.Emulated }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.binfmt != "" {
				if _, err := os.Stat("/proc/sys/fs/binfmt_misc/" + c.binfmt); err != nil {
					t.Skipf("no %s binfmt handler", c.binfmt)
				}
			}
			bin := filepath.Join(t.TempDir(), "archway-app")
			build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
			build.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+c.goarch, "GOARM="+c.goarmEnv, "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("cross-build: %v\n%s", err, out)
			}
			info := runForeign(t, bin)
			if info.Platform != c.platform || info.Machine != c.machine || info.Execution != c.execution || !c.check(info) {
				t.Errorf("got %+v; want platform %s, machine %s, execution %s", info, c.platform, c.machine, c.execution)
			}
		})
	}
}

type foreignInfo struct {
	Platform, GOARCH, GOARM, GO386, Variant, Machine, Execution string
	Emulated                                                    bool
}

func runForeign(t *testing.T, bin string) foreignInfo {
	t.Helper()
	port := testutil.FreePort(t)
	cmd := exec.Command(bin, "-drain", "0s")
	cmd.Env = []string{fmt.Sprintf("PORT=%d", port)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var info foreignInfo
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/info", port))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", bin, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
