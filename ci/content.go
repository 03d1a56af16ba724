package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxImageBytes bounds one platform image (config + layers, compressed). archway's
// images are one static binary and a CA bundle, 3–4 MB; a base image's layers that
// leaked in (the Dagger v0.19 WithRootfs trap: a subdirectory of an exec's output
// publishes the whole snapshot chain) weigh hundreds.
const maxImageBytes = 32 << 20

// elfTarget is what a platform's executable must be: ELF machine, class and byte order.
type elfTarget struct {
	machine elf.Machine
	class   elf.Class
	order   binary.ByteOrder
}

// elfTargets maps every platform archway builds to the ELF header its binaries carry.
var elfTargets = map[string]elfTarget{
	"linux/amd64":   {elf.EM_X86_64, elf.ELFCLASS64, binary.LittleEndian},
	"linux/arm64":   {elf.EM_AARCH64, elf.ELFCLASS64, binary.LittleEndian},
	"linux/arm/v7":  {elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian},
	"linux/arm/v6":  {elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian},
	"linux/386":     {elf.EM_386, elf.ELFCLASS32, binary.LittleEndian},
	"linux/ppc64le": {elf.EM_PPC64, elf.ELFCLASS64, binary.LittleEndian},
	"linux/s390x":   {elf.EM_S390, elf.ELFCLASS64, binary.BigEndian},
	"linux/riscv64": {elf.EM_RISCV, elf.ELFCLASS64, binary.LittleEndian},
}

// verifyImageContent checks what a user would run, not only what the index says: the
// platform image has exactly one layer, is no bigger than maxImageBytes, its config's
// entrypoint is entrypoint, and that file is in the layer, executable, and an ELF
// binary for the platform's CPU. It returns that file's content.
func verifyImageContent(ctx context.Context, rc *registryClient, repo, manifest, platform, entrypoint string) ([]byte, error) {
	want, ok := elfTargets[platform]
	if !ok {
		return nil, fmt.Errorf("%s: no ELF target known for this platform", platform)
	}
	img, err := rc.Image(ctx, repo, manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", platform, err)
	}
	man, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", platform, err)
	}
	size := compressed(man)
	switch {
	case len(man.Layers) != 1:
		return nil, fmt.Errorf("%s: %d layers (%.1f MB), want exactly 1: something besides the image's own files was published", platform, len(man.Layers), float64(size)/1e6)
	case size > maxImageBytes:
		return nil, fmt.Errorf("%s: %.1f MB compressed, over the %d MB an archway image can weigh: a base layer leaked in", platform, float64(size)/1e6, maxImageBytes>>20)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", platform, err)
	}
	if ep := cfg.Config.Entrypoint; len(ep) == 0 || ep[0] != entrypoint {
		return nil, fmt.Errorf("%s: entrypoint %q, want %q", platform, ep, entrypoint)
	}
	layer, err := img.LayerByDigest(man.Layers[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: layer: %w", platform, err)
	}
	rd, err := layer.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("%s: layer: %w", platform, err)
	}
	defer rd.Close()
	exe, mode, err := fileInLayer(rd, entrypoint)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", platform, err)
	}
	if mode&0o111 == 0 {
		return nil, fmt.Errorf("%s: %s is not executable (mode %o)", platform, entrypoint, mode)
	}
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not an ELF binary: %w", platform, entrypoint, err)
	}
	if f.Machine != want.machine || f.Class != want.class || f.ByteOrder != want.order {
		return nil, fmt.Errorf("%s: %s is an ELF %s %s %s binary, want %s %s %s", platform, entrypoint, f.Class, f.ByteOrder, f.Machine, want.class, want.order, want.machine)
	}
	return exe, nil
}

// fileInLayer returns the content and mode of the regular file at path in an
// uncompressed tar layer.
func fileInLayer(r io.Reader, path string) ([]byte, int64, error) {
	tr := tar.NewReader(r)
	want := strings.TrimPrefix(path, "/")
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("%s is not in the image's layer", path)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read layer: %w", err)
		}
		if strings.TrimPrefix(h.Name, "./") != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, 0, fmt.Errorf("%s in the layer is not a regular file (type %q)", path, h.Typeflag)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, 0, fmt.Errorf("read %s from the layer: %w", path, err)
		}
		return b, h.Mode, nil
	}
}
