// The Go binding's module sits at the repository root so that the module
// (and its zip) carries the C core's sources, which cgo compiles
// (bindings/go/core_*.c include them). Import path: ruphin/bindings/go.
module ruphin

go 1.19
