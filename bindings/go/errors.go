package ruphin

/*
#include "ruphin.h"
*/
import "C"

import "errors"

// Error is a failure reported by the C library; Code is its negative error
// code (the C header's ruphin_error).
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return "ruphin: " + e.Message }

// Is makes errors.Is match any *Error with the same code, such as the sentinels below.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

func newError(code C.int32_t) error {
	if code >= 0 {
		return nil
	}
	return &Error{Code: int(code), Message: C.GoString(C.ruphin_strerror(code))}
}

// Sentinels for errors.Is, one per C error code.
var (
	ErrInvalid          = newError(C.RUPHIN_ERR_INVALID)
	ErrNoMem            = newError(C.RUPHIN_ERR_NOMEM)
	ErrAddress          = newError(C.RUPHIN_ERR_ADDRESS)
	ErrSocket           = newError(C.RUPHIN_ERR_SOCKET)
	ErrAddrInUse        = newError(C.RUPHIN_ERR_ADDR_IN_USE)
	ErrAddrNotAvailable = newError(C.RUPHIN_ERR_ADDR_NOT_AVAILABLE)
	ErrPermission       = newError(C.RUPHIN_ERR_PERMISSION)
	ErrTooLarge         = newError(C.RUPHIN_ERR_TOO_LARGE)
	ErrNotConnected     = newError(C.RUPHIN_ERR_NOT_CONNECTED)
	ErrUnknownPeer      = newError(C.RUPHIN_ERR_UNKNOWN_PEER)
	ErrWouldBlock       = newError(C.RUPHIN_ERR_WOULD_BLOCK)
	ErrIO               = newError(C.RUPHIN_ERR_IO)
	ErrTimeout          = newError(C.RUPHIN_ERR_TIMEOUT)
	ErrSessionNotFound  = newError(C.RUPHIN_ERR_SESSION_NOT_FOUND)
	ErrPeerLost         = newError(C.RUPHIN_ERR_PEER_LOST)
	ErrNotSupported     = newError(C.RUPHIN_ERR_NOT_SUPPORTED)
	ErrFailed           = newError(C.RUPHIN_ERR_FAILED)
	ErrBuffer           = newError(C.RUPHIN_ERR_BUFFER)
	ErrAddressFamily    = newError(C.RUPHIN_ERR_ADDRESS_FAMILY)
	ErrStopped          = newError(C.RUPHIN_ERR_STOPPED)
	ErrAuth             = newError(C.RUPHIN_ERR_AUTH)
)

// The binding's own errors: uses of a node that its state rules out.
var (
	ErrClosed = errors.New("ruphin: node is closed")
	ErrActive = errors.New("ruphin: node is driven by an Active; Stop it first")
)
