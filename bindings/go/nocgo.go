//go:build !cgo

package ruphin

// The ruphin package compiles the C core with cgo: build with CGO_ENABLED=1
// and a C compiler. (This undefined name makes that the compile error.)
var _ = ruphin_needs_cgo_set_CGO_ENABLED_1_and_install_a_C_compiler
