//go:build pins

// Package pins keeps the chosen dependency versions in go.mod while the packages that
// import them are being written; delete it once every pin has a real importer.
package pins

import (
	_ "dagger.io/dagger"
	_ "github.com/docker/docker/client"
	_ "github.com/gorilla/mux"
)
