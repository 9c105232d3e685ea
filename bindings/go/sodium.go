//go:build !ruphin_nosodium && !windows

package ruphin

// Sealed sessions use libsodium (Debian: libsodium-dev). Build with
// -tags ruphin_nosodium to leave it out: SealSupported then reports false.
// Windows builds leave it out too (MinGW has no libsodium package to link).

/*
#cgo CFLAGS: -DRUPHIN_WITH_SODIUM
#cgo LDFLAGS: -lsodium
*/
import "C"
