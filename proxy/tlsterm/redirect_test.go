package tlsterm

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestRedirectHandler: the Location for every accepted Host form, and 400 without a
// Location for every Host that is not one a redirect may point at.
func TestRedirectHandler(t *testing.T) {
	for _, tc := range []struct {
		name, method, host, target string
		port                       int
		want                       string // Location; "" means 400
	}{
		{"host without port", "GET", "example.com", "/a/b?x=1&y=2", 8443, "https://example.com:8443/a/b?x=1&y=2"},
		{"host with port", "GET", "example.com:8080", "/", 8443, "https://example.com:8443/"},
		{"443 omitted", "GET", "example.com:80", "/p?q", 443, "https://example.com/p?q"},
		{"query kept verbatim", "GET", "example.com", "/s?q=a%20b&r=%3D&&t", 443, "https://example.com/s?q=a%20b&r=%3D&&t"},
		{"escaped path kept", "GET", "example.com", "/a%2Fb/c%20d", 443, "https://example.com/a%2Fb/c%20d"},
		{"double slash stays a path", "GET", "example.com", "//evil.test/x", 443, "https://example.com//evil.test/x"},
		{"IPv4", "GET", "192.0.2.7:80", "/", 8443, "https://192.0.2.7:8443/"},
		{"IPv6 literal with port", "GET", "[::1]:8080", "/v6", 8443, "https://[::1]:8443/v6"},
		{"IPv6 literal normalised", "GET", "[2001:DB8:0:0::1]", "/", 443, "https://[2001:db8::1]/"},
		{"underscore (Compose names)", "GET", "my_app-web.internal", "/", 443, "https://my_app-web.internal/"},
		{"final dot", "GET", "example.com.", "/", 443, "https://example.com./"},
		{"empty port", "GET", "example.com:", "/", 443, "https://example.com/"},
		{"single label", "GET", "localhost:8080", "/", 8443, "https://localhost:8443/"},
		{"POST kept by 308", "POST", "example.com", "/form", 443, "https://example.com/form"},
		{"PUT kept by 308", "PUT", "example.com", "/obj", 443, "https://example.com/obj"},

		{"no Host", "GET", "", "/", 443, ""},
		{"slash", "GET", "evil.test/x", "/", 443, ""},
		{"userinfo", "GET", "user@evil.test", "/", 443, ""},
		{"at after port", "GET", "example.com:80@evil.test", "/", 443, ""},
		{"backslash", "GET", `evil.test\x`, "/", 443, ""},
		{"space", "GET", "a b", "/", 443, ""},
		{"tab", "GET", "a\tb", "/", 443, ""},
		{"CR LF", "GET", "a.test\r\nSet-Cookie: x=1", "/", 443, ""},
		{"NUL", "GET", "a\x00b", "/", 443, ""},
		{"DEL", "GET", "a\x7fb", "/", 443, ""},
		{"non-ASCII", "GET", "évil.test", "/", 443, ""},
		{"percent", "GET", "%65vil.test", "/", 443, ""},
		{"query in host", "GET", "evil.test?x", "/", 443, ""},
		{"fragment in host", "GET", "evil.test#x", "/", 443, ""},
		{"IPv6 without brackets", "GET", "::1", "/", 443, ""},
		{"unclosed bracket", "GET", "[::1", "/", 443, ""},
		{"junk after bracket", "GET", "[::1]x", "/", 443, ""},
		{"IPv6 zone", "GET", "[fe80::1%25eth0]", "/", 443, ""},
		{"IPv4 in brackets", "GET", "[192.0.2.1]", "/", 443, ""},
		{"port 0", "GET", "example.com:0", "/", 443, ""},
		{"port too large", "GET", "example.com:65536", "/", 443, ""},
		{"port not a number", "GET", "example.com:http", "/", 443, ""},
		{"port with sign", "GET", "example.com:+80", "/", 443, ""},
		{"two ports", "GET", "example.com:80:80", "/", 443, ""},
		{"port only", "GET", ":8080", "/", 443, ""},
		{"dot only", "GET", ".", "/", 443, ""},
		{"empty label", "GET", "a..test", "/", 443, ""},
		{"leading dot", "GET", ".a.test", "/", 443, ""},
		{"leading hyphen", "GET", "-a.test", "/", 443, ""},
		{"trailing hyphen", "GET", "a-.test", "/", 443, ""},
		{"label too long", "GET", strings.Repeat("a", 64) + ".test", "/", 443, ""},
		{"name too long", "GET", strings.Repeat("a.", 127) + "test", "/", 443, ""},
		{"IPv4 short form", "GET", "127.1", "/", 443, ""},
		{"IPv4 as one number", "GET", "2130706433", "/", 443, ""},
		{"IPv4 hex", "GET", "0x7f000001", "/", 443, ""},
		{"IPv4 octet out of range", "GET", "192.0.2.300", "/", 443, ""},
		{"IPv4 leading zero", "GET", "010.0.0.1", "/", 443, ""},
		{"numeric TLD", "GET", "example.123", "/", 443, ""},
		{"asterisk target", "OPTIONS", "example.com", "*", 443, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://placeholder"+tc.target, strings.NewReader("body"))
			if tc.target == "*" {
				r = httptest.NewRequest(tc.method, "*", nil)
			}
			r.Host = tc.host
			w := httptest.NewRecorder()
			RedirectHandler(tc.port).ServeHTTP(w, r)
			body := w.Body.String()
			if tc.want == "" {
				if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
					t.Fatalf("Host %q: %d, Location %q; want 400 and none", tc.host, w.Code, w.Header().Get("Location"))
				}
				if !strings.HasPrefix(body, "cannot redirect to HTTPS: ") || strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
					t.Fatalf("400 body %q is not one line of reason", body)
				}
				t.Logf("%q: %s", tc.host, strings.TrimSpace(body))
				return
			}
			if w.Code != http.StatusPermanentRedirect {
				t.Fatalf("Host %q: %d %q, want 308", tc.host, w.Code, body)
			}
			if got := w.Header().Get("Location"); got != tc.want {
				t.Fatalf("Host %q target %q: Location %q, want %q", tc.host, tc.target, got, tc.want)
			}
			if body != "Redirecting to "+tc.want+"\n" {
				t.Fatalf("body %q", body)
			}
		})
	}
}

// TestRedirectHandlerRequestForms: an absolute-form target redirects to its own host
// (net/http takes it over the Host header, RFC 9112 §3.2.2), keeping path and query
// only; CONNECT is refused.
func TestRedirectHandlerRequestForms(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"GET http://example.com/x?y=1 HTTP/1.1\r\nHost: other.test\r\n\r\n", "https://example.com:8443/x?y=1"},
		{"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", "https://example.com:8443/"},
		{"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", ""},
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.raw)))
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		RedirectHandler(8443).ServeHTTP(w, r)
		if tc.want == "" {
			if w.Code != http.StatusBadRequest {
				t.Errorf("%q: %d, want 400", tc.raw, w.Code)
			}
			continue
		}
		if got := w.Header().Get("Location"); w.Code != http.StatusPermanentRedirect || got != tc.want {
			t.Errorf("%q: %d Location %q, want 308 %q", tc.raw, w.Code, got, tc.want)
		}
	}
}

// TestRedirectFollowedKeepsMethodAndBody: an HTTP client POSTing to the plain listener
// follows the 308 to the TLS listener and sends the same method and body there.
func TestRedirectFollowedKeepsMethodAndBody(t *testing.T) {
	ca := newTestCA(t)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b)+" "+r.Proto)
	})
	secure := serveTLS(t, newServedStore(t, ca, issue(t, ca, "127.0.0.1")), echo)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(secure, "https://"))
	httpsPort, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(RedirectHandler(httpsPort))
	defer plain.Close()

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Post(plain.URL+"/submit?id=7", "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got, want := string(b), "POST /submit?id=7 payload HTTP/2.0"; got != want || resp.Request.URL.Scheme != "https" {
		t.Fatalf("after the redirect: %q at %s, want %q over https", got, resp.Request.URL, want)
	}
}

// TestRedirectHandlerBadPort: a port outside 1..65535 is the caller's mistake.
func TestRedirectHandlerBadPort(t *testing.T) {
	for _, p := range []int{0, -1, 65536} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RedirectHandler(%d) did not panic", p)
				}
			}()
			RedirectHandler(p)
		}()
	}
}
