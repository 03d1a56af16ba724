package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
)

// fakeELF is an ELF header (no sections) for a target: enough for debug/elf to say
// which CPU, class and byte order a file is for.
func fakeELF(t *testing.T, tg elfTarget) []byte {
	t.Helper()
	var b bytes.Buffer
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(tg.class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	if tg.order == binary.BigEndian {
		ident[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	var err error
	if tg.class == elf.ELFCLASS64 {
		err = binary.Write(&b, tg.order, elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(tg.machine), Version: 1, Ehsize: 64})
	} else {
		err = binary.Write(&b, tg.order, elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(tg.machine), Version: 1, Ehsize: 52})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type layerFile struct {
	name string
	mode int64
	body []byte
	typ  byte
}

func gzLayer(t *testing.T, files ...layerFile) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: f.name, Mode: f.mode, Typeflag: typ, Size: int64(len(f.body))}
		if typ != tar.TypeReg {
			h.Size, h.Linkname = 0, "/elsewhere"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body[:h.Size]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pushContent pushes one platform manifest with these layers and entrypoint and
// returns its digest.
func pushContent(t *testing.T, rc *registryClient, repo string, entrypoint []string, layers ...[]byte) string {
	t.Helper()
	ctx := context.Background()
	cb, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{"Entrypoint": entrypoint}})
	cd, err := rc.PutBlob(ctx, repo, cb, mtOCIConfig)
	if err != nil {
		t.Fatal(err)
	}
	var descs []map[string]any
	for _, l := range layers {
		ld, err := rc.PutBlob(ctx, repo, l, mtOCILayer)
		if err != nil {
			t.Fatal(err)
		}
		descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": len(l)})
	}
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mtOCIManifest,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cb)}, "layers": descs})
	md, err := rc.PutManifest(ctx, repo, digestOf(man), mtOCIManifest, man)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// TestVerifyImageContent: an image passes only with one layer holding an executable
// binary for its platform at the entrypoint; the v0.19 WithRootfs trap (a base layer
// and the binary under another path) and a binary of another architecture fail, each
// in one line naming the platform and what is wrong.
func TestVerifyImageContent(t *testing.T) {
	rc := testRegistry(t)
	ctx := context.Background()
	const ep = "/usr/local/bin/archway-app"
	for platform, tg := range elfTargets {
		good := pushContent(t, rc, "archway/app", []string{ep}, gzLayer(t, layerFile{name: "usr/local/bin/archway-app", mode: 0o755, body: fakeELF(t, tg)}))
		if _, err := verifyImageContent(ctx, rc, "archway/app", good, platform, ep); err != nil {
			t.Errorf("%s: a good image fails: %v", platform, err)
		}
	}
	amd64 := fakeELF(t, elfTargets["linux/amd64"])
	base := gzLayer(t, layerFile{name: "usr/bin/gcc", mode: 0o755, body: bytes.Repeat([]byte{1}, 1000)})
	for _, c := range []struct {
		name     string
		platform string
		digest   string
		want     string
	}{
		{"a base layer leaked in", "linux/amd64", pushContent(t, rc, "archway/app", []string{ep}, base, gzLayer(t, layerFile{name: "out/archway-app/usr/local/bin/archway-app", mode: 0o755, body: amd64})), "linux/amd64: 2 layers"},
		{"binary under another path", "linux/amd64", pushContent(t, rc, "archway/app", []string{ep}, gzLayer(t, layerFile{name: "out/archway-app/usr/local/bin/archway-app", mode: 0o755, body: amd64})), "linux/amd64: /usr/local/bin/archway-app is not in the image's layer"},
		{"another CPU's binary", "linux/arm64", pushContent(t, rc, "archway/app", []string{ep}, gzLayer(t, layerFile{name: "./usr/local/bin/archway-app", mode: 0o755, body: amd64})), "linux/arm64: /usr/local/bin/archway-app is an ELF ELFCLASS64 LittleEndian EM_X86_64 binary, want ELFCLASS64 LittleEndian EM_AARCH64"},
		{"arm/v7 given a 386 binary", "linux/arm/v7", pushContent(t, rc, "archway/app", []string{ep}, gzLayer(t, layerFile{name: "usr/local/bin/archway-app", mode: 0o755, body: fakeELF(t, elfTargets["linux/386"])})), "EM_386 binary, want ELFCLASS32 LittleEndian EM_ARM"},
		{"not executable", "linux/amd64", pushContent(t, rc, "archway/app", []string{ep}, gzLayer(t, layerFile{name: "usr/local/bin/archway-app", mode: 0o644, body: amd64})), "is not executable (mode 644)"},
		{"a symlink", "linux/amd64", pushContent(t, rc, "archway/app", []string{ep}, gzLayer(t, layerFile{name: "usr/local/bin/archway-app", typ: tar.TypeSymlink})), "is not a regular file"},
		{"not ELF", "linux/amd64", pushContent(t, rc, "archway/app", []string{ep}, gzLayer(t, layerFile{name: "usr/local/bin/archway-app", mode: 0o755, body: []byte("#!/bin/sh\n")})), "is not an ELF binary"},
		{"wrong entrypoint", "linux/amd64", pushContent(t, rc, "archway/app", []string{"/bin/sh"}, gzLayer(t, layerFile{name: "usr/local/bin/archway-app", mode: 0o755, body: amd64})), `entrypoint ["/bin/sh"], want "/usr/local/bin/archway-app"`},
		{"too big", "linux/amd64", pushContent(t, rc, "archway/app", []string{ep}, bytes.Repeat([]byte{0}, maxImageBytes+1)), "over the 32 MB"},
	} {
		_, err := verifyImageContent(ctx, rc, "archway/app", c.digest, c.platform, ep)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line containing %q", c.name, err, c.want)
		}
	}
}
