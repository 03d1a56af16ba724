package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/archwayhq/archway/internal/server"
)

var testPlatform = Platform{OS: "linux", Arch: "arm", GOARM: "7", Variant: "v7", Machine: "armv7l",
	Exec: Execution{Mode: Emulated, HostCPU: "x86", Note: "qemu says hi"}}

func testHandler(v2 bool, ready *server.Readiness) http.Handler {
	at := time.Date(2026, 11, 23, 4, 5, 6, 0, time.UTC)
	return NewHandler(Options{V2: v2, Hostname: "e99a62b52d1d", Platform: testPlatform, Ready: ready, Now: func() time.Time { return at }})
}

func do(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRootText(t *testing.T) {
	h := testHandler(false, nil)
	cases := []struct {
		hdr  map[string]string
		want string
	}{
		{nil, "unknown e99a62b52d1d linux/arm/v7\n"},
		{map[string]string{"Color": "blue"}, "blue e99a62b52d1d linux/arm/v7\n"},
		{map[string]string{"Color": "  green "}, "green e99a62b52d1d linux/arm/v7\n"},
		{map[string]string{"Color": ""}, "unknown e99a62b52d1d linux/arm/v7\n"},
		// curl and browsers keep the text line in v1, as sillyproxy's myapp.
		{map[string]string{"Color": "blue", "Accept": "*/*"}, "blue e99a62b52d1d linux/arm/v7\n"},
		{map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, "unknown e99a62b52d1d linux/arm/v7\n"},
	}
	for _, c := range cases {
		rec := do(t, h, "GET", "/", c.hdr)
		if rec.Code != 200 || rec.Body.String() != c.want {
			t.Errorf("%v: %d %q, want %q", c.hdr, rec.Code, rec.Body.String(), c.want)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%v: Content-Type %q", c.hdr, ct)
		}
	}
}

func TestRootV2IsSeedHTML(t *testing.T) {
	h := testHandler(true, nil)
	rec := do(t, h, "GET", "/", map[string]string{"Color": "green"})
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	// The line the seed's demo greps for.
	if !strings.Contains(body, "<h1>e99a62b52d1d (green)</h1>") {
		t.Errorf("V2 page lacks the seed's <h1>:\n%s", body)
	}
	for _, want := range []string{`class="theme-green"`, "armv7l", "emulated", "qemu says hi", `<div class="arch">arm</div>`, `<div class="variant">v7</div>`} {
		if !strings.Contains(body, want) {
			t.Errorf("V2 page lacks %q", want)
		}
	}
	for _, ext := range []string{`src="http`, `href="http`, `href="//`, `url(http`, `url(//`, "@import"} {
		if strings.Contains(body, ext) {
			t.Errorf("page loads %s…: it must be self-contained", ext)
		}
	}
	rec = do(t, h, "GET", "/", nil)
	if !strings.Contains(rec.Body.String(), "<h1>e99a62b52d1d (unknown)</h1>") || !strings.Contains(rec.Body.String(), `class="theme-other"`) {
		t.Error("V2 without Color: want unknown / theme-other")
	}
}

func TestUIAlwaysHTMLAndEscapes(t *testing.T) {
	h := testHandler(false, nil)
	rec := do(t, h, "GET", "/ui", map[string]string{"Color": `<script>x</script>`})
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("/ui: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(body, "<script>x") || !strings.Contains(body, "&lt;script&gt;x") {
		t.Error("Color header not escaped in the page")
	}
	if !strings.Contains(body, `class="theme-other"`) {
		t.Error("unknown colour must fall back to theme-other")
	}
	for color, theme := range map[string]string{"BLUE": "theme-blue", "canary": "theme-yellow"} {
		if b := do(t, h, "GET", "/ui", map[string]string{"Color": color}).Body.String(); !strings.Contains(b, `class="`+theme+`"`) {
			t.Errorf("Color %s: want %s", color, theme)
		}
	}
}

func TestUIRefresh(t *testing.T) {
	h := testHandler(false, nil)
	if b := do(t, h, "GET", "/ui?refresh=2", nil).Body.String(); !strings.Contains(b, `<meta http-equiv="refresh" content="2">`) {
		t.Error("refresh=2: no meta refresh")
	}
	if b := do(t, h, "GET", "/ui", nil).Body.String(); strings.Contains(b, `http-equiv="refresh"`) {
		t.Error("refresh without asking")
	}
	for _, bad := range []string{"x", "-1", "3601"} {
		rec := do(t, h, "GET", "/ui?refresh="+bad, nil)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `refresh="`+bad+`"`) {
			t.Errorf("refresh=%s: %d %q", bad, rec.Code, rec.Body.String())
		}
	}
}

func TestAPIInfo(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		h := testHandler(v2, nil)
		for _, tc := range []struct {
			path string
			hdr  map[string]string
		}{
			{"/api/info", map[string]string{"Color": "blue", "Authorization": "Bearer s3cret", "X-Forwarded-For": "10.0.0.9"}},
			{"/", map[string]string{"Color": "blue", "Accept": "application/json", "Authorization": "Bearer s3cret", "X-Forwarded-For": "10.0.0.9"}},
		} {
			rec := do(t, h, "GET", tc.path, tc.hdr)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("v2=%v %s: %d %q", v2, tc.path, rec.Code, rec.Header().Get("Content-Type"))
			}
			raw := rec.Body.String()
			if strings.Contains(raw, "s3cret") {
				t.Error("Authorization echoed")
			}
			var got Info
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatal(err)
			}
			if got.Hostname != "e99a62b52d1d" || got.Color != "blue" || got.GOOS != "linux" || got.GOARCH != "arm" ||
				got.GOARM != "7" || got.Variant != "v7" || got.Platform != "linux/arm/v7" || got.Machine != "armv7l" ||
				got.Execution != Emulated || !got.Emulated || got.V2 != v2 || got.Version == "" || got.Commit == "" {
				t.Errorf("v2=%v %s: %+v", v2, tc.path, got)
			}
			if !got.ServedAt.Equal(time.Date(2026, 11, 23, 4, 5, 6, 0, time.UTC)) {
				t.Errorf("served_at %v", got.ServedAt)
			}
			if got.Headers["X-Forwarded-For"][0] != "10.0.0.9" || got.Headers["Host"][0] != "example.com" {
				t.Errorf("headers %v", got.Headers)
			}
			for _, key := range []string{`"goos"`, `"goarch"`, `"goarm"`, `"machine"`, `"served_at"`, `"headers"`, `"emulated"`} {
				if !strings.Contains(raw, key) {
					t.Errorf("JSON lacks %s", key)
				}
			}
		}
	}
}

func TestHealthReadyAndMethods(t *testing.T) {
	var ready server.Readiness
	h := testHandler(false, &ready)
	if rec := do(t, h, "GET", "/readyz", nil); rec.Code != 503 {
		t.Errorf("not ready: %d", rec.Code)
	}
	ready.Set(true)
	if rec := do(t, h, "GET", "/readyz", nil); rec.Code != 200 {
		t.Errorf("ready: %d", rec.Code)
	}
	if rec := do(t, h, "GET", "/healthz", nil); rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q", rec.Code, rec.Body.String())
	}
	if rec := do(t, h, "POST", "/", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", rec.Code)
	}
	if rec := do(t, h, "GET", "/nope", nil); rec.Code != 404 {
		t.Errorf("GET /nope: %d", rec.Code)
	}
	if rec := do(t, h, "HEAD", "/", nil); rec.Code != 200 {
		t.Errorf("HEAD /: %d", rec.Code)
	}
}

// The text line is the proxy benchmark's backend: keep it cheap.
func BenchmarkRootText(b *testing.B) {
	h := testHandler(false, nil)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Color", "blue")
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
