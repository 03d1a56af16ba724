package rollout

import (
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	home := t.TempDir()
	t.Setenv("ARCHWAY_HOME", home)
	t.Setenv("ARCHWAY_ADMIN_TOKEN_FILE", "")
	parse := func(args ...string) (Flags, error) {
		var f Flags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.Register(fs)
		if err := fs.Parse(args); err != nil {
			return f, err
		}
		return f, f.Resolve()
	}
	f, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	if f.Group != "archway" || f.AdminTokenFile != filepath.Join(home, "admin.token") || f.VerifyKey != filepath.Join(home, "signing", "cosign.pub") {
		t.Errorf("defaults: %+v", f)
	}
	if f, _ := parse("-stack", "shop", "-verify-key", ""); f.Group != "shop" || f.VerifyKey != "" {
		t.Errorf("-stack shop -verify-key '': %+v", f)
	}
	if _, err := parse("-timeout", "0s"); err == nil || !strings.Contains(err.Error(), "-timeout=0s") {
		t.Errorf("-timeout 0s: %v", err)
	}
	for _, c := range []struct{ args, want []string }{
		{[]string{"-stack", ""}, []string{`-stack="": want a stack name`}},
		{[]string{"-stack", "my stack"}, []string{`-stack="my stack": want a stack name`}},
		{[]string{"-proxy-url", "ftp://x"}, []string{`-proxy-url="ftp://x": want an http:// or https:// URL`}},
		{[]string{"-admin-url", "not a url"}, []string{`-admin-url="not a url": want an http:// or https:// URL`}},
		{[]string{"-admin-url", "http://:8990"}, []string{`-admin-url="http://:8990": missing host`}},
	} {
		if _, err := parse(c.args...); err == nil || !strings.Contains(err.Error(), c.want[0]) {
			t.Errorf("%q: %v, want %s", c.args, err, c.want[0])
		}
	}
	if _, err := parse("-proxy-url", "http://10.0.0.1:8989", "-admin-url", "https://manager:8990"); err != nil {
		t.Errorf("good URLs refused: %v", err)
	}
	t.Setenv("ARCHWAY_VERIFY_KEY", "/keys/ours.pub")
	if f, _ := parse(); f.VerifyKey != "/keys/ours.pub" {
		t.Errorf("ARCHWAY_VERIFY_KEY: %q", f.VerifyKey)
	}
}
