package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/common"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
)

// SLSA identifiers of archway's pipeline.
const (
	provenanceBuildType = sourceURL + "/ci/buildtypes/dagger-pipeline/v1"
	builderID           = sourceURL + "/ci"
	predicateSLSA1      = slsa1.PredicateSLSAProvenance
	predicateCycloneDX  = "https://cyclonedx.org/bom"
)

// daggerSDKVersion is the dagger.io/dagger module this pipeline is built with.
func daggerSDKVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "dagger.io/dagger" {
				return m.Version
			}
		}
	}
	return "unknown"
}

// provenance is the SLSA v1 provenance predicate of one platform image: the source
// (repository, commit, version), the pipeline's parameters (every platform built, this
// one, the binary and its package, the Go build base, the registry and image), what
// the binary itself says of its build (Go version and settings, from its build info),
// the builder and this run's start and end. The digests it names are the
// reproducible ones; only runDetails.metadata changes from run to run.
func (a *Archway) provenance(platform string, b Binary, image string, bi *debug.BuildInfo, exeDigest string, finished time.Time) slsa1.ProvenancePredicate {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	base := a.opts.GoImage
	if base == "" {
		base = "offline debootstrap base (" + a.goBaseTar + ") + host Go toolchain"
	}
	started := a.started.UTC()
	finished = finished.UTC()
	host, _ := os.Hostname()
	return slsa1.ProvenancePredicate{
		BuildDefinition: slsa1.ProvenanceBuildDefinition{
			BuildType: provenanceBuildType,
			ExternalParameters: map[string]any{
				"source":    map[string]string{"repository": sourceURL, "commit": a.info.Commit, "version": a.info.Version},
				"platforms": a.opts.Platforms,
				"platform":  platform,
				"binary":    map[string]string{"name": b.Name, "package": b.Pkg, "path": "/usr/local/bin/" + b.Name},
				"image":     image,
				"goBase":    base,
			},
			InternalParameters: map[string]any{
				"goVersion":     bi.GoVersion,
				"buildSettings": settings,
				"created":       a.info.Created.UTC().Format(time.RFC3339),
			},
			ResolvedDependencies: []slsa1.ResourceDescriptor{
				{URI: "git+" + sourceURL + "@" + a.info.Commit, Digest: common.DigestSet{"gitCommit": a.info.Commit}},
				{URI: "pkg:golang/std@" + bi.GoVersion, Name: "go toolchain"},
			},
		},
		RunDetails: slsa1.ProvenanceRunDetails{
			Builder: slsa1.Builder{
				ID:      builderID,
				Version: map[string]string{"dagger.io/dagger": daggerSDKVersion()},
			},
			BuildMetadata: slsa1.BuildMetadata{
				InvocationID: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), a.started.UnixNano()),
				StartedOn:    &started,
				FinishedOn:   &finished,
			},
			Byproducts: []slsa1.ResourceDescriptor{
				{Name: "/usr/local/bin/" + b.Name, Digest: common.DigestSet{"sha256": exeDigest}},
			},
		},
	}
}
