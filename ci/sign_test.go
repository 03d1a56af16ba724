package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/archwayhq/archway/internal/imagesign"
)

// TestSigningKeyErrors: a missing key names setup, the env and -sign=false; a key
// given as PEM in the environment loads; each failure is one line.
func TestSigningKeyErrors(t *testing.T) {
	home := t.TempDir()
	o := Options{}
	o.Provision.Home = home
	_, err := loadSigningKey(o)
	if err == nil || !strings.Contains(err.Error(), "go run ./ci setup") || !strings.Contains(err.Error(), "ARCHWAY_SIGNING_KEY") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("missing key: %v", err)
	}
	priv, _, err := imagesign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	o.SigningKey, o.SigningPassword = string(priv), []byte("pw")
	if k, err := loadSigningKey(o); err != nil || k.Source != "ARCHWAY_SIGNING_KEY" {
		t.Fatalf("PEM from the environment: %v", err)
	}
	o.SigningPassword = []byte("nope")
	if _, err := loadSigningKey(o); err == nil || err.Error() != "signing key ARCHWAY_SIGNING_KEY: wrong passphrase (COSIGN_PASSWORD)" {
		t.Fatalf("wrong passphrase: %v", err)
	}
	o.SigningKey = filepath.Join(home, "missing.key")
	if _, err := loadSigningKey(o); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

// refusing wraps a registry and refuses the manifests of cosign's attachment tags
// with suffix, as a registry with a tag policy would.
type refusing struct {
	h      http.Handler
	suffix string
}

func (r refusing) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/sha256-") && strings.HasSuffix(req.URL.Path, r.suffix) {
		http.Error(w, `{"errors":[{"code":"DENIED","message":"tag policy: attachment tags are not allowed"}]}`, http.StatusForbidden)
		return
	}
	r.h.ServeHTTP(w, req)
}

// TestRefusedAttachmentStopsBeforeTagging: when the registry refuses an attachment
// tag, signing fails in one line naming it, and the index is never tagged.
func TestRefusedAttachmentStopsBeforeTagging(t *testing.T) {
	for _, suffix := range []string{".sig", ".att", ".sbom"} {
		srv := httptest.NewServer(refusing{registry.New(registry.Logger(log.New(io.Discard, "", 0))), suffix})
		rc := newRegistryClient(strings.TrimPrefix(srv.URL, "http://"))
		ctx := context.Background()
		d := pushImage(t, rc, "archway/app", "raw", []string{"linux/amd64"}, time.Now())
		body, mt, _ := rc.Manifest(ctx, "archway/app", d)
		_, imgs, err := verifyIndex(ctx, rc, "archway/app", d, []string{"linux/amd64"})
		if err != nil {
			t.Fatal(err)
		}
		exe, _ := os.ReadFile(os.Args[0]) // a Go binary with build info: this test
		priv, _, _ := imagesign.GenerateKeyPair(nil)
		key, err := imagesign.LoadKey(priv, nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		a := &Archway{opts: Options{Registry: rc.addr, Platforms: []string{"linux/amd64"}}, key: key, started: time.Now()}
		s := staged{b: Binary{Name: "archway-app", Pkg: "./app/cmd/archway-app"}, repo: "archway/app", index: d, body: body, mt: mt, imgs: imgs}
		err = a.signAndAttest(ctx, rc, s, [][]byte{exe})
		if err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), suffix) || strings.Contains(oneLine(err), "\n") {
			t.Errorf("%s refused: %v", suffix, err)
		}
		if _, _, err := rc.Manifest(ctx, "archway/app", "latest"); err == nil {
			t.Errorf("%s refused: latest was tagged", suffix)
		}
		srv.Close()
	}
}
