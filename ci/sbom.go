package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// goPURL is the package URL of a Go module version.
func goPURL(path, version string) string {
	if version == "" || version == "(devel)" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}

// moduleComponent describes one module of a binary's build info; a replaced module is
// the replacement that was compiled in, with the original named in a property.
func moduleComponent(m *debug.Module) cdx.Component {
	var props []cdx.Property
	if m.Replace != nil {
		props = append(props, cdx.Property{Name: "cdx:gomod:replaces", Value: m.Path + "@" + m.Version})
		m = m.Replace
	}
	c := cdx.Component{
		BOMRef:     goPURL(m.Path, m.Version),
		Type:       cdx.ComponentTypeLibrary,
		Name:       m.Path,
		Version:    m.Version,
		PackageURL: goPURL(m.Path, m.Version),
		Scope:      cdx.ScopeRequired,
	}
	// h1: is base64 of a SHA-256 (the module's dirhash): the same bytes in hex.
	if s, ok := strings.CutPrefix(m.Sum, "h1:"); ok {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(b)}}
		}
	}
	if len(props) > 0 {
		c.Properties = &props
	}
	return c
}

// binarySBOM is the CycloneDX 1.6 SBOM of one Go binary from its build info (read from
// the very file in the image): the main module as the described component, with the
// file's SHA-256, the Go version and the build settings; every module compiled in as
// a library, with its version and go.sum hash; and the standard library of that Go
// version. It is reproducible: its serial number and timestamp come from the binary
// and the commit time.
func binarySBOM(exe []byte, bi *debug.BuildInfo, fileName, version string, created time.Time) ([]byte, error) {
	sum := sha256.Sum256(exe)
	props := []cdx.Property{{Name: "cdx:gomod:binary:name", Value: fileName}, {Name: "cdx:gomod:build:goVersion", Value: bi.GoVersion}}
	for _, s := range bi.Settings {
		props = append(props, cdx.Property{Name: "cdx:gomod:build:" + s.Key, Value: s.Value})
	}
	main := cdx.Component{
		BOMRef:     goPURL(bi.Main.Path, version),
		Type:       cdx.ComponentTypeApplication,
		Name:       bi.Main.Path,
		Version:    version,
		PackageURL: goPURL(bi.Main.Path, version),
		Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(sum[:])}},
		Properties: &props,
	}
	std := cdx.Component{
		BOMRef:     goPURL("std", bi.GoVersion),
		Type:       cdx.ComponentTypeLibrary,
		Name:       "std",
		Version:    bi.GoVersion,
		PackageURL: goPURL("std", bi.GoVersion),
		Scope:      cdx.ScopeRequired,
	}
	comps := []cdx.Component{std}
	refs := []string{std.BOMRef}
	for _, m := range bi.Deps {
		c := moduleComponent(m)
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	bom := cdx.NewBOM()
	// A UUID from the binary's digest: the same binary gets the same serial number.
	u := sum
	u[6], u[8] = u[6]&0x0f|0x50, u[8]&0x3f|0x80
	bom.SerialNumber = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	bom.Metadata = &cdx.Metadata{
		Timestamp: created.UTC().Format(time.RFC3339),
		Component: &main,
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "archway-ci", Group: "github.com/archwayhq/archway",
			Properties: &[]cdx.Property{{Name: "generator", Value: "debug/buildinfo + github.com/CycloneDX/cyclonedx-go"}},
		}}},
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: main.BOMRef, Dependencies: &refs}}
	var b bytes.Buffer
	enc := cdx.NewBOMEncoder(&b, cdx.BOMFileFormatJSON).SetPretty(false).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}
