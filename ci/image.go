package main

import (
	"time"

	"dagger.io/dagger"
)

// sourceURL is the org.opencontainers.image.source label.
const sourceURL = "https://github.com/archwayhq/archway"

// Image assembles one platform's image from scratch: the root filesystem laid out by
// Build (binary, CA bundle, passwd/group), non-root user, entrypoint, ports, labels.
func (a *Archway) Image(platform string, b Binary, out *dagger.Directory) *dagger.Container {
	c := a.client.Container(dagger.ContainerOpts{Platform: dagger.Platform(platform)}).
		// A fresh directory holding the files, not out.Directory(b.Name) itself: a
		// subdirectory of an exec's output would publish the exec's whole snapshot
		// chain (the Go base, /src) with the files under out/<name>/ (Dagger v0.19).
		WithRootfs(a.client.Directory().WithDirectory("/", out.Directory(b.Name))).
		WithUser("65532:65532").
		WithWorkdir("/home/nonroot").
		WithEnvVariable("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt").
		WithEntrypoint([]string{"/usr/local/bin/" + b.Name})
	for _, port := range b.Ports {
		c = c.WithExposedPort(port)
	}
	labels := [][2]string{
		{"org.opencontainers.image.source", sourceURL},
		{"org.opencontainers.image.version", a.info.Version},
		{"org.opencontainers.image.revision", a.info.Commit},
		{"org.opencontainers.image.created", a.info.Created.Format(time.RFC3339)},
		{"org.opencontainers.image.title", b.Title},
	}
	for _, l := range labels {
		c = c.WithLabel(l[0], l[1])
	}
	return c
}
