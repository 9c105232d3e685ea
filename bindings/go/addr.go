package ruphin

/*
#include <string.h>
#include "ruphin.h"
*/
import "C"

import (
	"fmt"
	"net"
	"strconv"
	"unsafe"
)

// fromC converts a C address (nil for family 0). An IPv6 scope becomes a
// numeric zone, which the net package accepts wherever it takes a zone.
func fromC(a *C.ruphin_addr) *net.UDPAddr {
	switch a.family {
	case 4:
		return &net.UDPAddr{IP: net.IP(C.GoBytes(unsafe.Pointer(&a.ip[0]), 4)), Port: int(a.port)}
	case 6:
		out := &net.UDPAddr{IP: net.IP(C.GoBytes(unsafe.Pointer(&a.ip[0]), 16)), Port: int(a.port)}
		if a.scope_id != 0 {
			out.Zone = strconv.FormatUint(uint64(a.scope_id), 10)
		}
		return out
	}
	return nil
}

// toC converts a Go address; a zone is an interface name or index.
func toC(addr *net.UDPAddr) (C.ruphin_addr, error) {
	var a C.ruphin_addr
	if addr.Port < 0 || addr.Port > 65535 {
		return a, fmt.Errorf("port %d: %w", addr.Port, ErrAddress)
	}
	a.port = C.uint16_t(addr.Port)
	if ip4 := addr.IP.To4(); ip4 != nil {
		a.family = 4
		C.memcpy(unsafe.Pointer(&a.ip[0]), unsafe.Pointer(&ip4[0]), 4)
		return a, nil
	}
	if len(addr.IP) != net.IPv6len {
		return a, fmt.Errorf("IP %v: %w", addr.IP, ErrAddress)
	}
	a.family = 6
	C.memcpy(unsafe.Pointer(&a.ip[0]), unsafe.Pointer(&addr.IP[0]), 16)
	if addr.Zone != "" {
		scope, err := zoneIndex(addr.Zone)
		if err != nil {
			return a, fmt.Errorf("zone %q: %w", addr.Zone, ErrAddress)
		}
		a.scope_id = C.uint32_t(scope)
	}
	return a, nil
}

// toCOrNil is toC for a destination that may be left out (nil: NULL).
func toCOrNil(addr *net.UDPAddr) (*C.ruphin_addr, error) {
	if addr == nil {
		return nil, nil
	}
	a, err := toC(addr)
	return &a, err
}

func zoneIndex(zone string) (uint32, error) {
	if index, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(index), nil
	}
	ifc, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifc.Index), nil
}
