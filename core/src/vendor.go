//go:build ruphin_vendor

// Package src is not a Go package to import: this file only makes
// `go mod vendor` copy the C core's sources, which bindings/go compiles
// through cgo, into a user's vendor/ directory (vendoring copies the
// directories of Go packages only). See bindings/go/vendor.go.
package src
