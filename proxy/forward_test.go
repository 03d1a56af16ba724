package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

func TestReplayable(t *testing.T) {
	for _, c := range []struct {
		method string
		body   string
		hdr    string
		want   bool
	}{
		{"GET", "", "", true}, {"HEAD", "", "", true}, {"OPTIONS", "", "", true}, {"DELETE", "", "", true},
		{"PUT", "", "", true}, {"PUT", "x", "", false}, {"POST", "", "", false}, {"PATCH", "", "", false},
		{"GET", "", "websocket", false},
	} {
		r := httptest.NewRequest(c.method, "/", strings.NewReader(c.body))
		if c.body == "" {
			r = httptest.NewRequest(c.method, "/", nil)
		}
		if c.hdr != "" {
			r.Header.Set("Upgrade", c.hdr)
		}
		if got := proxy.Replayable(r); got != c.want {
			t.Errorf("Replayable(%s body=%q upgrade=%q) = %v", c.method, c.body, c.hdr, got)
		}
	}
}

func TestJoinTargetURI(t *testing.T) {
	for _, c := range []struct{ target, in, want string }{
		{"http://h/base", "/x?a=1", "/base/x?a=1"},
		{"http://h/base/", "/x", "/base/x"},
		{"http://h/base?k=v", "/x?a=1", "/base/x?k=v&a=1"},
		{"http://h/base?k=v", "/x", "/base/x?k=v"},
		{"http://h/b%2Fc/", "/x%2Fy?q", "/b%2Fc/x%2Fy?q"},
	} {
		if got := proxy.JoinTargetURI(proxytest.MustURL(t, c.target), c.in); got != c.want {
			t.Errorf("proxy.JoinTargetURI(%s, %s) = %q, want %q", c.target, c.in, got, c.want)
		}
	}
}

// FuzzJoinTargetURI checks the epoll engine's path and query rewrite against the
// nethttp engine's (httputil.ProxyRequest.SetURL) for any target and request URI.
func FuzzJoinTargetURI(f *testing.F) {
	f.Add("/base/", "k=1", "/x/a%2Fb?y=2")
	f.Add("", "", "/")
	f.Add("/b%2Fc", "", "/x%2Fy?q")
	f.Fuzz(func(t *testing.T, tpath, tquery, requestURI string) {
		target, err := url.Parse("http://backend" + tpath + "?" + tquery)
		if err != nil || target.Host != "backend" || target.Fragment != "" {
			return
		}
		in, err := http.NewRequest(http.MethodGet, "http://front"+requestURI, nil)
		if err != nil || !strings.HasPrefix(requestURI, "/") || in.URL.RequestURI() != requestURI {
			return // only request URIs the server would hand over unchanged
		}
		pr := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
		pr.SetURL(target)
		if got, want := proxy.JoinTargetURI(target, requestURI), pr.Out.URL.RequestURI(); got != want {
			t.Fatalf("proxy.JoinTargetURI(%q, %q) = %q, SetURL gives %q", target, requestURI, got, want)
		}
	})
}
