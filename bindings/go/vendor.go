//go:build ruphin_vendor

package ruphin

// cgo compiles the C core from ../../core (core_*.c include its sources).
// `go mod vendor` copies only the directories of packages that the build
// imports, under any build tags; these imports, behind a tag that no build
// sets, make it copy core/src and core/include too, while a normal build
// never imports them (they would not build: C files without cgo). So
// never build with -tags ruphin_vendor.
import (
	_ "ruphin/core/include"
	_ "ruphin/core/src"
)
