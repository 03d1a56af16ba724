package app

import (
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    Faults
		wantErr string
	}{
		{name: "none", want: Faults{}},
		{name: "blank is unset", env: map[string]string{"FAIL_RATE": " ", "DELAY": "\t"}, want: Faults{}},
		{name: "rate with default status", env: map[string]string{"FAIL_RATE": "0.3"}, want: Faults{FailRate: 0.3, FailStatus: 500}},
		{name: "rate trimmed", env: map[string]string{"FAIL_RATE": " 1 "}, want: Faults{FailRate: 1, FailStatus: 500}},
		{name: "rate 0 is off but valid", env: map[string]string{"FAIL_RATE": "0", "FAIL_STATUS": "503", "FAIL_PLATFORM": "linux/386"},
			want: Faults{FailStatus: 503, FailPlatform: "linux/386"}},
		{name: "exponent", env: map[string]string{"FAIL_RATE": "5e-2"}, want: Faults{FailRate: 0.05, FailStatus: 500}},
		{name: "rounded to 1e-9", env: map[string]string{"FAIL_RATE": "0.1234567891234"}, want: Faults{FailRate: 0.123456789, FailStatus: 500}},
		{name: "all", env: map[string]string{"FAIL_RATE": "0.25", "FAIL_STATUS": "503", "FAIL_PLATFORM": "linux/arm/v7", "DELAY": "200ms", "DELAY_PLATFORM": "linux/arm64"},
			want: Faults{FailRate: 0.25, FailStatus: 503, FailPlatform: "linux/arm/v7", Delay: 200 * time.Millisecond, DelayPlatform: "linux/arm64"}},
		{name: "delay alone", env: map[string]string{"DELAY": "1.5s"}, want: Faults{Delay: 1500 * time.Millisecond}},
		{name: "delay 0", env: map[string]string{"DELAY": "0", "DELAY_PLATFORM": "linux/amd64"}, want: Faults{DelayPlatform: "linux/amd64"}},
		{name: "delay at the limit", env: map[string]string{"DELAY": "1m"}, want: Faults{Delay: time.Minute}},
		{name: "default variants dropped", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/arm64/v8", "DELAY": "1ms", "DELAY_PLATFORM": "linux/amd64/v1"},
			want: Faults{FailRate: 1, FailStatus: 500, FailPlatform: "linux/arm64", Delay: time.Millisecond, DelayPlatform: "linux/amd64"}},
		{name: "other variants kept", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/amd64/v3"},
			want: Faults{FailRate: 1, FailStatus: 500, FailPlatform: "linux/amd64/v3"}},

		{name: "rate above 1", env: map[string]string{"FAIL_RATE": "1.5"}, wantErr: `FAIL_RATE="1.5": want a number from 0 to 1`},
		{name: "rate negative", env: map[string]string{"FAIL_RATE": "-0.1"}, wantErr: `FAIL_RATE="-0.1": want a number from 0 to 1`},
		{name: "rate NaN", env: map[string]string{"FAIL_RATE": "NaN"}, wantErr: `FAIL_RATE="NaN": want a number from 0 to 1`},
		{name: "rate Inf", env: map[string]string{"FAIL_RATE": "+Inf"}, wantErr: `FAIL_RATE="+Inf": want a number from 0 to 1`},
		{name: "rate out of float range", env: map[string]string{"FAIL_RATE": "1e400"}, wantErr: `FAIL_RATE="1e400"`},
		{name: "rate percent", env: map[string]string{"FAIL_RATE": "30%"}, wantErr: `FAIL_RATE="30%": want a number from 0 to 1`},
		{name: "rate fraction", env: map[string]string{"FAIL_RATE": "1/3"}, wantErr: `FAIL_RATE="1/3"`},
		{name: "rate garbage", env: map[string]string{"FAIL_RATE": "0.3; rm -rf /"}, wantErr: `FAIL_RATE="0.3; rm -rf /"`},
		{name: "rate trailing newline trimmed", env: map[string]string{"FAIL_RATE": "0.3\n"}, want: Faults{FailRate: 0.3, FailStatus: 500}},
		{name: "rate newline inside", env: map[string]string{"FAIL_RATE": "0.\n3"}, wantErr: `FAIL_RATE="0.\n3"`},
		{name: "status 404", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "404"}, wantErr: `FAIL_STATUS="404": want an HTTP status from 500 to 599`},
		{name: "status 600", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "600"}, wantErr: `FAIL_STATUS="600"`},
		{name: "status word", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "bad gateway"}, wantErr: `FAIL_STATUS="bad gateway"`},
		{name: "status float", env: map[string]string{"FAIL_RATE": "1", "FAIL_STATUS": "502.0"}, wantErr: `FAIL_STATUS="502.0"`},
		{name: "status without rate", env: map[string]string{"FAIL_STATUS": "503"}, wantErr: `FAIL_STATUS="503": needs FAIL_RATE`},
		{name: "platform without rate", env: map[string]string{"FAIL_PLATFORM": "linux/arm/v7"}, wantErr: `FAIL_PLATFORM="linux/arm/v7": needs FAIL_RATE`},
		{name: "platform arch only", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "arm"}, wantErr: `FAIL_PLATFORM="arm": want os/arch[/variant] such as linux/arm/v7`},
		{name: "platform too long", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/arm/v7/x"}, wantErr: `FAIL_PLATFORM="linux/arm/v7/x": want os/arch`},
		{name: "platform empty part", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux//v7"}, wantErr: `FAIL_PLATFORM="linux//v7"`},
		{name: "platform trailing slash", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/amd64/"}, wantErr: `FAIL_PLATFORM="linux/amd64/"`},
		{name: "platform upper case", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "Linux/ARM64"}, wantErr: `FAIL_PLATFORM="Linux/ARM64"`},
		{name: "platform uname form", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/x86_64"}, wantErr: `FAIL_PLATFORM="linux/x86_64"`},
		{name: "platform list", env: map[string]string{"FAIL_RATE": "1", "FAIL_PLATFORM": "linux/arm64,linux/amd64"}, wantErr: `FAIL_PLATFORM="linux/arm64,linux/amd64"`},
		{name: "delay negative", env: map[string]string{"DELAY": "-1s"}, wantErr: `DELAY="-1s": want a duration from 0 to 1m0s such as 200ms`},
		{name: "delay above 60s", env: map[string]string{"DELAY": "61s"}, wantErr: `DELAY="61s": want a duration from 0 to 1m0s`},
		{name: "delay without unit", env: map[string]string{"DELAY": "200"}, wantErr: `DELAY="200"`},
		{name: "delay overflow", env: map[string]string{"DELAY": "9999999999h"}, wantErr: `DELAY="9999999999h"`},
		{name: "delay platform without delay", env: map[string]string{"DELAY_PLATFORM": "linux/386"}, wantErr: `DELAY_PLATFORM="linux/386": needs DELAY`},
		{name: "delay platform bad", env: map[string]string{"DELAY": "1s", "DELAY_PLATFORM": "linux"}, wantErr: `DELAY_PLATFORM="linux": want os/arch[/variant]`},
		{name: "huge value cut", env: map[string]string{"FAIL_RATE": strings.Repeat("9", 5000)}, wantErr: `FAIL_RATE="` + strings.Repeat("9", 80) + `"… (5000 bytes): want a number from 0 to 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseFaults(envOf(c.env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, c.wantErr)
				}
				if strings.ContainsAny(err.Error(), "\r\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseRelease(t *testing.T) {
	for _, ok := range []string{"", "r-20261201-143015", "v1.2.3+build.7", "blue green (ça marche)", " padded ", strings.Repeat("é", MaxReleaseLen)} {
		if got, err := ParseRelease(ok); err != nil || got != ok {
			t.Errorf("ParseRelease(%q) = %q, %v; want it unchanged", ok, got, err)
		}
	}
	for _, bad := range []string{"r1\n", "r1\tr2", "\x1b[31mred", "r1\x00", "a\u200bb", "a\u202eb", "\xff\xfe", strings.Repeat("x", MaxReleaseLen+1)} {
		_, err := ParseRelease(bad)
		if err == nil {
			t.Errorf("ParseRelease(%q) accepted", bad)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "ARCHWAY_RELEASE=") || !strings.HasSuffix(msg, ": want at most 64 printable characters") || strings.ContainsAny(msg, "\r\n\x1b\x00") {
			t.Errorf("ParseRelease(%q): error %q", bad, msg)
		}
	}
}

func TestFaultsOnAndString(t *testing.T) {
	f := Faults{FailRate: 0.3, FailStatus: 503, FailPlatform: "linux/arm/v7", Delay: 200 * time.Millisecond}
	if got := f.On("linux/arm/v7").String(); got != "FAIL_RATE=0.3 FAIL_STATUS=503 FAIL_PLATFORM=linux/arm/v7 DELAY=200ms" {
		t.Errorf("on arm/v7: %q", got)
	}
	if got := f.On("linux/amd64").String(); got != "DELAY=200ms" {
		t.Errorf("on amd64: %q", got)
	}
	if (Faults{FailRate: 1, FailPlatform: "linux/386"}).On("linux/amd64").Active() {
		t.Error("a fault for another platform is active")
	}
	if got := (Faults{FailRate: 1}).String(); got != "FAIL_RATE=1 FAIL_STATUS=500" {
		t.Errorf("default status: %q", got)
	}
	if (Faults{}).Active() || (Faults{}).String() != "" {
		t.Error("zero Faults injects something")
	}
}
