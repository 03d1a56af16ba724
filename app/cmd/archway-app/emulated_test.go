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
)

// TestEmulatedUnderQemu cross-builds archway-app for linux/arm/v7 and runs it through
// the host's qemu-user binfmt handler: /api/info must report the build's variant, the
// machine qemu fakes (armv7l) and, from /proc/cpuinfo, that it is emulated. Skipped
// where there is no such handler (an arm host runs it natively).
func TestEmulatedUnderQemu(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-build and emulation: not in -short")
	}
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "386") {
		t.Skip("needs an x86 Linux host")
	}
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-arm"); err != nil {
		t.Skip("no qemu-arm binfmt handler")
	}
	bin := filepath.Join(t.TempDir(), "archway-app-armv7")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm", "GOARM=7", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-build: %v\n%s", err, out)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "-drain", "0s")
	cmd.Env = []string{fmt.Sprintf("PORT=%d", port)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var info struct {
		Platform, GOARCH, GOARM, Variant, Machine, Execution string
		Emulated                                             bool
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/info", port))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulated app never answered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if info.Platform != "linux/arm/v7" || info.GOARCH != "arm" || info.GOARM != "7" || info.Variant != "v7" {
		t.Errorf("build identity: %+v", info)
	}
	if info.Machine != "armv7l" || info.Execution != "emulated" || !info.Emulated {
		t.Errorf("execution under qemu: %+v", info)
	}
}
