package lab

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRunFlags(t *testing.T) {
	if hc := runFlags(true); !hc.Privileged || len(hc.CapAdd) != 0 {
		t.Fatalf("privileged flags: %+v", hc)
	}
	hc := runFlags(false)
	if hc.Privileged || hc.CapAdd[0] != "ALL" || hc.CapDrop[0] != "SYS_RESOURCE" || hc.DeviceCgroupRules[0] != "a *:* rwm" {
		t.Fatalf("unprivileged flags: %+v", hc)
	}
	// The engine unmasks /proc and /sys only for an explicit empty list, not for null.
	b, _ := json.Marshal(hc)
	if !strings.Contains(string(b), `"MaskedPaths":[]`) || !strings.Contains(string(b), `"ReadonlyPaths":[]`) {
		t.Fatalf("masked/readonly paths not sent as empty lists: %s", b)
	}
	for _, o := range hc.SecurityOpt {
		if strings.HasPrefix(o, "systempaths") {
			t.Fatalf("%s is a CLI-only option the API rejects", o)
		}
	}
}
