package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfigSillyproxyEnv(t *testing.T) {
	c, err := ParseConfig(nil, []string{
		"BLUE=http://myapp-v1:8080", "GREEN=http://myapp-v2:8080/", "GREEN_WEIGHT=1", "BLUE_WEIGHT=4",
		"CANARY=http://myapp-v3:8080", "HOME=/root", "PATH=/bin", "GOPROXY=https://proxy.golang.org",
		"HTTP_PROXY=http://squid:3128", "NO_PROXY=localhost", "DOCKER_HOST=tcp://x:2375", "NOTE=hello",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := weightList(c.Backends); got != "BLUE=4 CANARY=1 GREEN=1" {
		t.Errorf("backends %s", got)
	}
	if c.Backends[2].Members[0].String() != "http://myapp-v2:8080/" {
		t.Errorf("GREEN url %v", c.Backends[2].Members[0])
	}
	if strings.Join(c.Discovered, ",") != "BLUE,CANARY,GREEN" {
		t.Errorf("discovered %v", c.Discovered)
	}
	// sillyproxy's rollback removes GREEN but may leave GREEN_WEIGHT: reported, not fatal.
	c2, err := ParseConfig(nil, []string{"BLUE=http://myapp-v1:8080", "GREEN_WEIGHT=1", "BLUE_WEIGHT=4"})
	if err != nil || weightList(c2.Backends) != "BLUE=4" || strings.Join(c2.Orphans, ",") != "GREEN_WEIGHT" {
		t.Errorf("orphan weight: %v %+v", err, c2)
	}
	if c.Addr != ":8989" || c.AdminAddr != DefaultAdminAddr || c.Provider != "static" || c.HealthPath != "/healthz" ||
		c.HealthInterval != 5*time.Second || c.MaxFails != 3 || c.Drain != 5*time.Second || c.StickyCookie != "" || c.OverrideHeader != "" ||
		c.StatsWindow != DefaultStatsWindow {
		t.Errorf("defaults: %+v", c)
	}
}

func TestParseConfigPrecedenceAndForms(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "archway.env")
	if err := os.WriteFile(file, []byte("# canary from the file\nexport CANARY=\"http://c:1\"\nBLUE_WEIGHT=2\nDRAIN=1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(
		[]string{"-port", "9000", "-backend", "blue=http://b:1,http://b2:1", "-weight", "Blue=7", "-config", file, "-sticky-cookie", "archway", "-override-header", "X-Archway-Color", "-admin-addr", "off"},
		[]string{"PORT=8084", "BLUE=http://ignored:1", "BLUE_WEIGHT=3", "DRAIN=9s", "STATS_WINDOW=2m", "PROXY_TARGET_URL=http://s3.example/maint/", "LOG_FORMAT=json"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.AdminAddr != "" || c.Drain != time.Second || c.LogFormat != "json" || c.StickyCookie != "archway" ||
		c.StatsWindow != 2*time.Minute {
		t.Errorf("settings: %+v", c)
	}
	if got := weightList(c.Backends); got != "BLUE=7 CANARY=1 DEFAULT=1" {
		t.Errorf("backends %s", got)
	}
	if len(c.Backends[0].Members) != 2 || c.Backends[0].Members[1].Host != "b2:1" {
		t.Errorf("BLUE members %v", c.Backends[0].Members)
	}
	// go-proxy-multiarch: PORT env, single target.
	c, err = ParseConfig(nil, []string{"PORT=8084", "PROXY_TARGET_URL=http://my-cdn.s3-website.example/maintenance/myapp/"})
	if err != nil || c.Addr != ":8084" || weightList(c.Backends) != "DEFAULT=1" {
		t.Fatalf("go-proxy-multiarch form: %+v %v", c, err)
	}
	c, err = ParseConfig([]string{"-proxy_target_url=http://google.com/", "-port=8081"}, nil)
	if err != nil || c.Addr != ":8081" || c.Backends[0].Members[0].Host != "google.com" {
		t.Fatalf("flag form: %+v %v", c, err)
	}
	// COLORS disables the scan: only the listed colours are read.
	c, err = ParseConfig(nil, []string{"COLORS=blue,canary", "BLUE=http://b:1", "CANARY=http://c:1", "OTHER=http://o:1"})
	if err != nil || weightList(c.Backends) != "BLUE=1 CANARY=1" {
		t.Fatalf("COLORS: %+v %v", c, err)
	}
	// Swarm provider needs no static backend.
	if c, err = ParseConfig([]string{"-provider", "swarm"}, nil); err != nil || len(c.Backends) != 0 {
		t.Fatalf("swarm without backends: %v", err)
	}
	if c, err = ParseConfig([]string{"-version"}, []string{"BLUE_WEIGHT=x"}); err != nil || !c.ShowVersion {
		t.Fatalf("-version must not need a valid config: %v", err)
	}
}

// TestParseConfigBadInputs: every bad input gives one line naming the setting and value.
func TestParseConfigBadInputs(t *testing.T) {
	ok := []string{"BLUE=http://b:1"}
	dir := t.TempDir()
	emptyFile, shortFile := filepath.Join(dir, "empty"), filepath.Join(dir, "short")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shortFile, []byte("abcde\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{nil, append(ok, "GREEN=http://g:2", "GREEN_WEIGHT=-1"), `GREEN_WEIGHT="-1": weight must be an integer >= 0`},
		{nil, append(ok, "BLUE_WEIGHT=four"), `BLUE_WEIGHT="four": weight must be an integer >= 0`},
		{nil, append(ok, "BLUE_WEIGHT=10001"), `BLUE_WEIGHT="10001": weight must be <= 10000`},
		{[]string{"-weight", "blue=-3"}, ok, `-weight blue="-3": weight must be an integer >= 0`},
		{[]string{"-weight", "green=3"}, ok, `-weight="GREEN=3": unknown colour GREEN; give its URL with GREEN=<url> or -backend green=<url>`},
		{[]string{"-weight", "3"}, ok, `-weight="3": want NAME=N with NAME like blue`},
		{nil, []string{"BLUE=myapp-v1:8080"}, `BLUE="myapp-v1:8080": unsupported scheme "myapp-v1"; want http, https, dns+http or dns+https`},
		{nil, []string{"BLUE=myapp-v1"}, `BLUE="myapp-v1": missing scheme; want http://host:port`},
		{nil, []string{"GREEN=http://exa mple:80"}, `GREEN="http://exa mple:80": not a URL: invalid character " " in host name`},
		{nil, []string{"BLUE=http://"}, `BLUE="http://": missing host; want http://host:port`},
		{nil, []string{"BLUE=http://b:0"}, `BLUE="http://b:0": port "0" out of range 1-65535`},
		{nil, []string{"BLUE=http://b:"}, `BLUE="http://b:": empty port; want host:port`},
		{nil, []string{"BLUE=http://b:1#frag"}, `BLUE="http://b:1#frag": fragment not allowed`},
		{nil, []string{"BLUE=http://b:1,"}, `BLUE="http://b:1,": empty URL; want http://host:port`},
		{nil, []string{"CANARY=ftp://c:21", "CANARY_WEIGHT=1"}, `CANARY="ftp://c:21": unsupported scheme "ftp"; want http, https, dns+http or dns+https`},
		{[]string{"-backend", "blue"}, nil, `-backend="blue": want NAME=URL with NAME like blue or canary`},
		{[]string{"-backend", "9x=http://a:1"}, nil, `-backend="9x=http://a:1": want NAME=URL with NAME like blue or canary`},
		{[]string{"-backend", "blue=tcp://a:1"}, nil, `-backend blue="tcp://a:1": unsupported scheme "tcp"; want http, https, dns+http or dns+https`},
		{nil, nil, `backends: none configured; set BLUE=<url> (or any colour), PROXY_TARGET_URL=<url> or -backend NAME=URL`},
		{nil, []string{"HOME=/root"}, `backends: none configured; set BLUE=<url> (or any colour), PROXY_TARGET_URL=<url> or -backend NAME=URL`},
		{nil, append(ok, "BLUE_WEIGHT=0"), `backends: every weight is 0 (BLUE=0); at least one must be > 0`},
		{nil, []string{"BLUE=http://b:1,http://c:1,http://b:1/"}, `BLUE="http://b:1,http://c:1,http://b:1/": member http://b:1/ listed twice (first as http://b:1)`},
		{[]string{"-backend", "blue=http://b:1/x,HTTP://b:1/x"}, nil, `-backend blue="http://b:1/x,HTTP://b:1/x": member http://b:1/x listed twice (first as http://b:1/x)`},
		{nil, append(ok, "PORT=http"), `PORT="http": want a port number 1-65535`},
		{nil, append(ok, "ACCESS_LOG=maybe"), `ACCESS_LOG="maybe": want true or false`},
		{nil, append(ok, "ACCESS_LOG="), `ACCESS_LOG="": want true or false`},
		{[]string{"-port", "70000"}, ok, `-port="70000": want a port number 1-65535`},
		{nil, append(ok, "PORT=0"), `PORT="0": want a port number 1-65535`},
		{nil, append(ok, "ADMIN_ADDR=8990"), `ADMIN_ADDR="8990": want host:port like 127.0.0.1:8990, or off`},
		{[]string{"-admin-addr", ":99999"}, ok, `-admin-addr=":99999": port out of range 0-65535`},
		{nil, append(ok, "HEALTH_INTERVAL=5"), `HEALTH_INTERVAL="5": want a duration like 5s or 500ms`},
		{nil, append(ok, "HEALTH_TIMEOUT=0s"), `HEALTH_TIMEOUT="0s": duration must be > 0`},
		{[]string{"-drain", "-1s"}, ok, `-drain="-1s": duration must be >= 0`},
		{nil, append(ok, "HEALTH_PATH=healthz"), `HEALTH_PATH="healthz": want an absolute path like /healthz`},
		{nil, append(ok, "MAX_FAILS=many"), `MAX_FAILS="many": want an integer 0-1000`},
		{nil, append(ok, "STICKY_COOKIE=a b"), `STICKY_COOKIE="a b": want a cookie name (letters, digits, - and _)`},
		{nil, append(ok, "OVERRIDE_HEADER=X:Color"), `OVERRIDE_HEADER="X:Color": want a header name like X-Archway-Color`},
		{nil, append(ok, "PRESERVE_HOST=maybe"), `PRESERVE_HOST="maybe": want true or false`},
		{nil, append(ok, "ENGINE=fast"), `ENGINE="fast": want nethttp or epoll`},
		{[]string{"-engine", "FastHTTP"}, ok, `-engine="FastHTTP": want nethttp or epoll`},
		{nil, append(ok, "ENGINE=fasthttp"), `ENGINE="fasthttp": the fasthttp engine was retired; use epoll (the event loops, faster) or nethttp`},
		{nil, append(ok, "ATTEMPT_TIMEOUT=soon"), `ATTEMPT_TIMEOUT="soon": want a duration like 5s or 500ms`},
		{[]string{"-attempt-timeout", "0s"}, ok, `-attempt-timeout="0s": duration must be > 0`},
		{nil, append(ok, "BODY_TIMEOUT=-1s"), `BODY_TIMEOUT="-1s": duration must be > 0`},
		{nil, append(ok, "MAX_BODY=10X"), `MAX_BODY="10X": want a size in bytes like 1048576, 512K, 10M or 1G (0: no limit)`},
		{nil, append(ok, "MAX_BODY=-1"), `MAX_BODY="-1": want a size in bytes like 1048576, 512K, 10M or 1G (0: no limit)`},
		{[]string{"-max-body", "99999999999G"}, ok, `-max-body="99999999999G": want a size in bytes like 1048576, 512K, 10M or 1G (0: no limit)`},
		{nil, append(ok, "ENGINE=epoll", "LOOPS=-1"), `LOOPS="-1": want an integer 0-256`},
		{[]string{"-loops", "many"}, append(ok, "ENGINE=epoll"), `-loops="many": want an integer 0-256`},
		{nil, append(ok, "ENGINE=nethttp", "LOOPS=2"), `LOOPS="2": only ENGINE=epoll has event loops (ENGINE=nethttp)`},
		{nil, append(ok, "STATS_WINDOW=5s"), `STATS_WINDOW="5s": want a duration from 10s to 1h, like 60s`},
		{[]string{"-stats-window", "2h"}, ok, `-stats-window="2h": want a duration from 10s to 1h, like 60s`},
		{nil, append(ok, "STATS_WINDOW=a minute"), `STATS_WINDOW="a minute": want a duration from 10s to 1h, like 60s`},
		{nil, append(ok, "LOG_FORMAT=xml"), `LOG_FORMAT="xml": want text or json`},
		{nil, append(ok, "LOG_LEVEL=loud"), `LOG_LEVEL="loud": want debug, info, warn or error`},
		{nil, []string{"COLORS=blue,purple", "BLUE=http://b:1"}, `COLORS="blue,purple": colour PURPLE has no URL: set PURPLE=<url>`},
		{nil, []string{"COLORS=blue,", "BLUE=http://b:1"}, `COLORS="blue,": colour "" must match [A-Za-z][A-Za-z0-9_-]* and be at most 63 characters`},
		{[]string{"-config", "/nonexistent/archway.env"}, ok, `-config="/nonexistent/archway.env": cannot read: no such file or directory`},
		{[]string{"-nope"}, ok, `flag provided but not defined: -nope`},
		{[]string{"-preserve-host=maybe"}, ok, `invalid boolean value "maybe" for -preserve-host: parse error`},
		{[]string{"extra"}, ok, `unexpected argument "extra"; settings are flags or env vars`},
		{nil, append(ok, "ADMIN_ADDR=:8990"), `ADMIN_ADDR=":8990": an admin API on a non-loopback address needs a token: set ADMIN_TOKEN_FILE (a Docker secret) or ADMIN_TOKEN, or listen on 127.0.0.1`},
		{[]string{"-admin-addr", "0.0.0.0:8990"}, ok, `-admin-addr="0.0.0.0:8990": an admin API on a non-loopback address needs a token: set ADMIN_TOKEN_FILE (a Docker secret) or ADMIN_TOKEN, or listen on 127.0.0.1`},
		{nil, append(ok, "ADMIN_ADDR=10.0.0.1:8990", "ADMIN_READ_TOKEN="+strings.Repeat("r", 16)), `ADMIN_ADDR="10.0.0.1:8990": an admin API on a non-loopback address needs a token: set ADMIN_TOKEN_FILE (a Docker secret) or ADMIN_TOKEN, or listen on 127.0.0.1`},
		{nil, append(ok, "ADMIN_TOKEN_FILE=/nonexistent/token"), `ADMIN_TOKEN_FILE="/nonexistent/token": no such file or directory`},
		{nil, append(ok, "ADMIN_TOKEN_FILE="+emptyFile), `ADMIN_TOKEN_FILE="` + emptyFile + `": the file is empty; want a token of at least 16 characters`},
		{nil, append(ok, "ADMIN_TOKEN_FILE="+shortFile), `ADMIN_TOKEN_FILE="` + shortFile + `": the token has 5 characters; want at least 16 (e.g. openssl rand -hex 32)`},
		{nil, append(ok, "ADMIN_TOKEN=secret"), `ADMIN_TOKEN: the token has 6 characters; want at least 16 (e.g. openssl rand -hex 32)`},
		{nil, append(ok, "ADMIN_TOKEN=two words that are long"), `ADMIN_TOKEN: the token holds white space or control characters; want one line of printable characters`},
		{nil, append(ok, "ADMIN_TOKEN_FILE="+shortFile, "ADMIN_TOKEN="+strings.Repeat("t", 16)), `ADMIN_TOKEN_FILE and ADMIN_TOKEN are both set; set one`},
		{[]string{"-admin-read-token-file", "/nonexistent/ro"}, ok, `-admin-read-token-file="/nonexistent/ro": no such file or directory`},
		{nil, append(ok, "TLS_CERT_FILE=/c.pem"), `TLS_CERT_FILE="/c.pem": needs TLS_KEY_FILE too`},
		{[]string{"-tls-key-file", "/k.pem"}, ok, `-tls-key-file="/k.pem": needs TLS_CERT_FILE too`},
		{nil, append(ok, "TLS_CERT_FILE=/c", "TLS_KEY_FILE=/k", "TLS_RELOAD_INTERVAL=-1s"), `TLS_RELOAD_INTERVAL="-1s": duration must be >= 0`},
		{nil, append(ok, "TLS_CERT_FILE=/c", "TLS_KEY_FILE=/k", "TLS_RELOAD_INTERVAL=1ns"), `TLS_RELOAD_INTERVAL="1ns": want 0 (off) or at least 100ms`},
		{nil, append(ok, "DNS_REFRESH=1ns"), `DNS_REFRESH="1ns": want at least 100ms`},
		{[]string{"-health-interval", "99ms"}, ok, `-health-interval="99ms": want 0 (off) or at least 100ms`},
		{nil, []string{"BLUE=http://user:secret@b:1"}, `BLUE="http://user:xxxxx@b:1": user info (user:password@) is not sent to backends; remove it`},
		{[]string{"-backend", "blue=http://b:1", "-weight", "blue=1", "-weight", "BLUE=5"}, nil, `-weight="BLUE=5": colour BLUE already has -weight 1; give one weight per colour`},
		{[]string{"-backend", "blue=http://b:1", "-backend", "blue=http://b:2"}, nil, `-backend="blue=http://b:2": colour BLUE is already given by -backend="blue=http://b:1"; give its URLs once, comma-separated`},
		{[]string{"-admin-addr", ""}, ok, `-admin-addr="": want host:port like 127.0.0.1:8990, or off`},
		{nil, append(ok, "ADMIN_ADDR= 127.0.0.1:8990"), `ADMIN_ADDR=" 127.0.0.1:8990": white space around the address; want host:port like 127.0.0.1:8990, or off`},
		{[]string{"-admin-addr", "127.0.0.1:8989"}, ok, `-admin-addr="127.0.0.1:8989": the same port as the proxy's listener (PORT 8989); give the admin API its own`},
		{nil, append(ok, "ADMIN_TOKEN_FILE=/dev/zero"), `ADMIN_TOKEN_FILE="/dev/zero": not a regular file`},
		{[]string{"-admin-read-token-file", os.TempDir()}, ok, `-admin-read-token-file="` + os.TempDir() + `": is a directory, not a file`},
		{nil, append(ok, "ADMIN_TOKEN="+strings.Repeat("s", 16), "ADMIN_READ_TOKEN="+strings.Repeat("s", 16)), `ADMIN_READ_TOKEN: the same token as ADMIN_TOKEN; the read-only token must differ, or it grants writes`},
		{nil, append(ok, "REDIRECT_PORT=80"), `REDIRECT_PORT="80": redirects to HTTPS, which needs TLS_CERT_FILE and TLS_KEY_FILE`},
		{nil, append(ok, "TLS_CERT_FILE=/c", "TLS_KEY_FILE=/k", "REDIRECT_PORT=http"), `REDIRECT_PORT="http": want a port number 1-65535`},
		{nil, append(ok, "TLS_CERT_FILE=/c", "TLS_KEY_FILE=/k", "REDIRECT_PORT=8989"), `REDIRECT_PORT="8989": the same port as the HTTPS listener`},
		{nil, append(ok, "TLS_CERT_FILE=/c", "TLS_KEY_FILE=/k", "REDIRECT_PORT=80", "REDIRECT_TO_PORT=x"), `REDIRECT_TO_PORT="x": want a port number 1-65535`},
		{nil, append(ok, "TLS_CERT_FILE=/c", "TLS_KEY_FILE=/k", "REDIRECT_TO_PORT=443"), `REDIRECT_TO_PORT="443": names the port redirects go to, but REDIRECT_PORT (the listener that redirects) is not set`},
	}
	for _, c := range cases {
		_, err := ParseConfig(c.args, c.env)
		if err == nil {
			t.Errorf("ParseConfig(%q, %q): no error, want %q", c.args, c.env, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("ParseConfig(%q, %q):\n got  %q\n want %q", c.args, c.env, err.Error(), c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error: %q", err.Error())
		}
	}
}

func TestEnvFileBadLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.env")
	if err := os.WriteFile(file, []byte("BLUE=http://b:1\njust words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ParseConfig([]string{"-config", file}, nil)
	want := `-config="` + file + `": line 2: want KEY=VALUE, got "just words"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// FuzzParseConfig: arbitrary flags and environment never panic, and an accepted
// configuration is usable: valid weights, at least one > 0, the proxy accepts it.
func FuzzParseConfig(f *testing.F) {
	f.Add("-port 8081", "BLUE=http://b:1\nGREEN=http://g:2/\nGREEN_WEIGHT=1\nBLUE_WEIGHT=4")
	f.Add("-backend blue=dns+http://tasks.app:8080 -weight blue=3", "PROXY_TARGET_URL=http://x/")
	f.Add("-drain 1s -health-interval 0", "COLORS=a,b\nA=http://a:1\nB=https://b")
	f.Add("", "BLUE=http://[::1]:80\nBLUE_WEIGHT=0\nRED=http://r:2")
	f.Fuzz(func(t *testing.T, args, env string) {
		c, err := ParseConfig(strings.Fields(args), strings.Split(env, "\n"))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		// The same inputs read again (a SIGHUP with nothing edited) change nothing.
		again, err := ParseConfig(strings.Fields(args), strings.Split(env, "\n"))
		if err != nil {
			t.Fatalf("the same inputs parsed twice: %v", err)
		}
		if changed := c.RestartOnlyChanges(again); changed != nil {
			t.Fatalf("the same inputs parsed twice differ in %q", changed)
		}
		if c.ShowVersion || c.Provider != DefaultProvider {
			return
		}
		positive := false
		for _, b := range c.Backends {
			if b.Weight < 0 || b.Weight > MaxWeight || len(b.Members) == 0 {
				t.Fatalf("accepted bad backend %+v", b)
			}
			positive = positive || b.Weight > 0
		}
		if !positive {
			t.Fatalf("accepted config without weight > 0: %s", weightList(c.Backends))
		}
		if _, err := normalizeSpecs(c.Backends); err != nil {
			t.Fatalf("parser accepted what the proxy refuses: %v", err)
		}
	})
}

// TestParseConfigAdminToken: a Docker secret's file (trailing newline) gives the
// token; with it the admin API may listen on every address.
func TestParseConfigAdminToken(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("  0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig([]string{"-admin-addr", ":8990"}, []string{"BLUE=http://b:1", "ADMIN_TOKEN_FILE=" + f, "ADMIN_READ_TOKEN=ro-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminAuth.Token != "0123456789abcdef0123" || c.AdminAuth.ReadToken != "ro-0123456789abcdef" || c.AdminAddr != ":8990" {
		t.Errorf("got %+v, admin %q", c.AdminAuth, c.AdminAddr)
	}
	// The default loopback admin listener needs no token.
	if c, err := ParseConfig(nil, []string{"BLUE=http://b:1"}); err != nil || c.AdminAuth != (AdminAuth{}) || c.AdminAddr != DefaultAdminAddr {
		t.Errorf("default: %+v %v", c, err)
	}
	// An empty ADMIN_ADDR (compose's ADMIN_ADDR=${ADMIN_ADDR} with nothing set) is
	// unset, as an empty PORT is: the default listener, not the API switched off.
	if c, err := ParseConfig(nil, []string{"BLUE=http://b:1", "ADMIN_ADDR="}); err != nil || c.AdminAddr != DefaultAdminAddr {
		t.Errorf("empty ADMIN_ADDR: admin %q, %v; want %q", c.AdminAddr, err, DefaultAdminAddr)
	}
	c, err = ParseConfig(nil, []string{"BLUE=http://b:1", "TLS_CERT_FILE=/c", "TLS_KEY_FILE=/k", "REDIRECT_PORT=8080"})
	if err != nil || c.TLSCert != "/c" || c.TLSKey != "/k" || c.RedirectAddr != ":8080" || c.RedirectTo != DefaultPort || c.TLSReload != DefaultTLSReload {
		t.Errorf("TLS: %+v %v", c, err)
	}
}

// A CONFIG file's typos are reported, not silently dropped: keys that are no setting,
// colour, weight or ARCHWAY_* variable, and keys set twice (the last wins).
func TestEnvFileUnusedAndDuplicateKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "archway.env")
	body := "BLUE=http://b:1\nHEALTH_INTERVALL=1s\nMAX_FAIL=0\nBLUE_WIEGHT=5\ngreen=http://g:2\nBLUE=http://b:2\nBLUE_WEIGHT=3\nARCHWAY_SWARM_RESYNC=5s\nDRAIN=1s\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig([]string{"-config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.FileUnused, ","); got != "BLUE_WIEGHT,HEALTH_INTERVALL,MAX_FAIL,green" {
		t.Errorf("FileUnused = %s", got)
	}
	if got := strings.Join(c.FileDuplicates, ","); got != "BLUE (lines 1 and 6)" {
		t.Errorf("FileDuplicates = %s", got)
	}
	if len(c.Backends) != 1 || c.Backends[0].Members[0].Host != "b:2" || c.Backends[0].Weight != 3 {
		t.Errorf("backends %+v", c.Backends)
	}
}
