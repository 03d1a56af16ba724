package enginetest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/archwayhq/archway/proxy"
	"github.com/archwayhq/archway/proxy/internal/proxytest"
)

func TestStickyCookieAndOverride(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b, g, c := proxytest.NewBackend(t, "b"), proxytest.NewBackend(t, "g"), proxytest.NewBackend(t, "c")
		p := newTestProxy(t, engine, proxy.Options{StickyCookie: "archway", OverrideHeader: "X-Archway-Color"},
			proxytest.Spec("BLUE", 4, b), proxytest.Spec("GREEN", 1, g), proxytest.Spec("CANARY", 0, c))
		front := newFront(t, p)
		client := front.Client()

		// A new client is assigned by SWRR and pinned with a cookie.
		_, e, h := proxytest.Get(t, client, front.URL+"/", nil)
		if e.Color != "blue" || !strings.HasPrefix(h.Get("Set-Cookie"), "archway=blue;") {
			t.Fatalf("first request: %s, Set-Cookie %q", e.Color, h.Get("Set-Cookie"))
		}
		// A client pinned to green stays on green (no new cookie), whatever SWRR says.
		for range 10 {
			_, e, h := proxytest.Get(t, client, front.URL+"/", http.Header{"Cookie": {"archway=green"}})
			if e.Color != "green" || h.Get("Set-Cookie") != "" {
				t.Fatalf("pinned green: got %s, Set-Cookie %q", e.Color, h.Get("Set-Cookie"))
			}
		}
		// Pinned to a drained (weight 0) or unknown colour: normal selection and a new pin.
		for _, v := range []string{"canary", "purple"} {
			_, e, h := proxytest.Get(t, client, front.URL+"/", http.Header{"Cookie": {"archway=" + v}})
			if e.Color == v || h.Get("Set-Cookie") == "" {
				t.Errorf("pinned %s: served by %s, Set-Cookie %q", v, e.Color, h.Get("Set-Cookie"))
			}
		}
		// The override header wins over SWRR and the cookie, and re-pins.
		_, e, h = proxytest.Get(t, client, front.URL+"/", http.Header{"X-Archway-Color": {"GREEN"}, "Cookie": {"archway=blue"}})
		if e.Color != "green" || !strings.HasPrefix(h.Get("Set-Cookie"), "archway=green;") {
			t.Errorf("override green: %s, Set-Cookie %q", e.Color, h.Get("Set-Cookie"))
		}
		// The override reaches a colour at weight 0 too: a release is smoke-tested on
		// the idle colour before users get any of it.
		for range 3 {
			_, e, _ = proxytest.Get(t, client, front.URL+"/", http.Header{"X-Archway-Color": {"canary"}})
			if e.Color != "canary" {
				t.Errorf("override canary (weight 0): served by %s", e.Color)
			}
		}
		// An unknown colour falls back to SWRR.
		_, e, _ = proxytest.Get(t, client, front.URL+"/", http.Header{"X-Archway-Color": {"purple"}})
		if e.Color == "purple" || e.Color == "" {
			t.Errorf("override purple: served by %q", e.Color)
		}
	})
}

func TestOverrideOffByDefault(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		b, g := proxytest.NewBackend(t, "b"), proxytest.NewBackend(t, "g")
		p := newTestProxy(t, engine, proxy.Options{}, proxytest.Spec("BLUE", 1, b), proxytest.Spec("GREEN", 0, g))
		front := newFront(t, p)
		for range 5 {
			_, e, h := proxytest.Get(t, front.Client(), front.URL+"/", http.Header{"X-Archway-Color": {"green"}, "Cookie": {"archway=green"}})
			if e.Color != "blue" || h.Get("Set-Cookie") != "" {
				t.Fatalf("override/sticky not enabled but got %s, Set-Cookie %q", e.Color, h.Get("Set-Cookie"))
			}
		}
	})
}
