//go:build ruphin_vendor

// Package include is not a Go package to import: this file only makes
// `go mod vendor` copy ruphin.h, which bindings/go compiles against, into a
// user's vendor/ directory. See bindings/go/vendor.go.
package include
