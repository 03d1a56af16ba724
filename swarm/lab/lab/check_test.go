package lab

import "testing"

func TestReportedGoarch(t *testing.T) {
	cases := map[string]string{
		"goarch=arm goarm=7 hostname=x\n":                "arm",
		`{"hostname":"x","goarch":"386","goos":"linux"}`: "386",
		`{"hostname":"x"}`:                               "",
		"hello":                                          "",
		"":                                               "",
	}
	for in, want := range cases {
		if got := reportedGoarch(in); got != want {
			t.Errorf("reportedGoarch(%q) = %q, want %q", in, got, want)
		}
	}
}
