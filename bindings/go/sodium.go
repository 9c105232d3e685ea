//go:build !ruphin_nosodium

package ruphin

// Sealed sessions use libsodium (Debian: libsodium-dev). Build with
// -tags ruphin_nosodium to leave it out: SealSupported then reports false.

/*
#cgo CFLAGS: -DRUPHIN_WITH_SODIUM
#cgo LDFLAGS: -lsodium
*/
import "C"
