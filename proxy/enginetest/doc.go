// Package enginetest holds the behaviour tests every archway-proxy engine must pass,
// run once per engine (forEachEngine) with the nethttp engine as the reference the
// epoll engine is compared with byte for byte. It has no code of its own.
package enginetest
