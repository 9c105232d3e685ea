// Package ruphin is the Go binding of libruphin: UDP hole punching through a
// rendezvous holepuncher. cgo compiles the bundled C core; no installed
// library is needed.
//
// A Node is not safe for concurrent use, except Wake, which any goroutine
// may call to interrupt a Poll that is waiting in another one.
package ruphin

/*
#cgo CFLAGS: -std=c11 -I${SRCDIR}/../../core/include -I${SRCDIR}/../../core/src
#cgo LDFLAGS: -lpthread
#include <stdlib.h>
#include <string.h>
#include "ruphin.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"
	"unsafe"
)

// Version is the C library's version.
func Version() string { return C.GoString(C.ruphin_version()) }

// Error is a failure reported by the C library; Code is its negative error code.
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

// Sentinels for errors.Is.
var (
	ErrInvalid         = newError(C.RUPHIN_ERR_INVALID)
	ErrAddress         = newError(C.RUPHIN_ERR_ADDRESS)
	ErrAddrInUse       = newError(C.RUPHIN_ERR_ADDR_IN_USE)
	ErrTooLarge        = newError(C.RUPHIN_ERR_TOO_LARGE)
	ErrNotConnected    = newError(C.RUPHIN_ERR_NOT_CONNECTED)
	ErrUnknownPeer     = newError(C.RUPHIN_ERR_UNKNOWN_PEER)
	ErrTimeout         = newError(C.RUPHIN_ERR_TIMEOUT)
	ErrSessionNotFound = newError(C.RUPHIN_ERR_SESSION_NOT_FOUND)
	ErrPeerLost        = newError(C.RUPHIN_ERR_PEER_LOST)
	ErrNotSupported    = newError(C.RUPHIN_ERR_NOT_SUPPORTED)
	ErrFailed          = newError(C.RUPHIN_ERR_FAILED)
	ErrClosed          = errors.New("ruphin: node is closed")
)

// EventType says what Poll reports.
type EventType int

const (
	EventData              EventType = C.RUPHIN_EVENT_DATA
	EventConnected         EventType = C.RUPHIN_EVENT_CONNECTED
	EventDisconnected      EventType = C.RUPHIN_EVENT_DISCONNECTED
	EventRegistered        EventType = C.RUPHIN_EVENT_REGISTERED
	EventRegistrationLost  EventType = C.RUPHIN_EVENT_REGISTRATION_LOST
	EventPunchFailed       EventType = C.RUPHIN_EVENT_PUNCH_FAILED
	EventFailed            EventType = C.RUPHIN_EVENT_FAILED
	EventWake              EventType = C.RUPHIN_EVENT_WAKE
	EventSessionRegistered EventType = C.RUPHIN_EVENT_SESSION_REGISTERED
	EventSessionExpired    EventType = C.RUPHIN_EVENT_SESSION_EXPIRED
	EventSessionJoined     EventType = C.RUPHIN_EVENT_SESSION_JOINED
	EventPeerAnnounced     EventType = C.RUPHIN_EVENT_PEER_ANNOUNCED
	EventRelayed           EventType = C.RUPHIN_EVENT_RELAYED
)

func (t EventType) String() string { return C.GoString(C.ruphin_event_name(C.int32_t(t))) }

// Event is one thing that happened. Data is the payload (EventData) or the
// session id (EventSession*); Err says why for EventFailed.
type Event struct {
	Type EventType
	Peer *net.UDPAddr
	Data []byte
	Err  error
}

// Options are tunables; zero values keep the library's defaults.
type Options struct {
	Bind               string // local "addr:port"; empty: any address, random port
	KeepaliveMS        int
	MissedKeepalives   int
	HandshakeTimeoutMS int
	RetransmitMS       int
	RetransmitMaxMS    int
	PunchIntervalMS    int
	MaxSessions        int
	MaxPeers           int
	MaxPayload         int
	AcceptUnverified   bool
	Generation0Only    bool // speak only the original protocol
	RateLimit          int  // holepuncher: per address and second (default 200)
	NoRateLimit        bool // holepuncher: no rate limit at all
	AllowAmplification bool // holepuncher: answer short original Joins too (docs/SECURITY.md)
	RelayRate          int  // holepuncher: relayed bytes/s per pair (0: no relay); peers: ms before relaying
}

func (o *Options) toC() (*C.ruphin_options, error) {
	var opts *C.ruphin_options
	if err := newError(C.ruphin_options_new(&opts)); err != nil {
		return nil, err
	}
	if o == nil {
		return opts, nil
	}
	set := []struct {
		id    C.int32_t
		value int
	}{
		{C.RUPHIN_OPT_KEEPALIVE_MS, o.KeepaliveMS},
		{C.RUPHIN_OPT_MISSED_KEEPALIVES, o.MissedKeepalives},
		{C.RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS, o.HandshakeTimeoutMS},
		{C.RUPHIN_OPT_RETRANSMIT_MS, o.RetransmitMS},
		{C.RUPHIN_OPT_RETRANSMIT_MAX_MS, o.RetransmitMaxMS},
		{C.RUPHIN_OPT_PUNCH_INTERVAL_MS, o.PunchIntervalMS},
		{C.RUPHIN_OPT_MAX_SESSIONS, o.MaxSessions},
		{C.RUPHIN_OPT_MAX_PEERS, o.MaxPeers},
		{C.RUPHIN_OPT_MAX_PAYLOAD, o.MaxPayload},
		{C.RUPHIN_OPT_RATE_LIMIT, o.RateLimit},
		{C.RUPHIN_OPT_RELAY_RATE, o.RelayRate},
	}
	for _, s := range set {
		if s.value == 0 {
			continue
		}
		if err := newError(C.ruphin_options_set(opts, s.id, C.int64_t(s.value))); err != nil {
			C.ruphin_options_free(opts)
			return nil, err
		}
	}
	if o.AcceptUnverified {
		C.ruphin_options_set(opts, C.RUPHIN_OPT_ACCEPT_UNVERIFIED, 1)
	}
	if o.Generation0Only {
		C.ruphin_options_set(opts, C.RUPHIN_OPT_EXTENSIONS, 0)
	}
	if o.NoRateLimit {
		C.ruphin_options_set(opts, C.RUPHIN_OPT_RATE_LIMIT, 0)
	}
	if o.AllowAmplification {
		C.ruphin_options_set(opts, C.RUPHIN_OPT_NO_AMPLIFICATION, 0)
	}
	return opts, nil
}

func (o *Options) bind() *C.char {
	if o == nil || o.Bind == "" {
		return nil
	}
	return C.CString(o.Bind)
}

// Node is what the three roles share.
type Node struct {
	p     *C.ruphin_node
	event C.ruphin_event
}

func newNode(p *C.ruphin_node) *Node {
	n := &Node{p: p}
	runtime.SetFinalizer(n, func(n *Node) { n.Close() }) // a safety net; call Close
	return n
}

// Close frees the node and its socket. Calling it again does nothing.
func (n *Node) Close() error {
	if n.p != nil {
		C.ruphin_close(n.p)
		n.p = nil
	}
	return nil
}

// Poll runs the protocol for up to timeout (0: do not wait; negative: until
// an event) and returns the next event, or nil when the time passed.
func (n *Node) Poll(timeout time.Duration) (*Event, error) {
	if n.p == nil {
		return nil, ErrClosed
	}
	ms := C.int32_t(C.RUPHIN_WAIT_FOREVER)
	if timeout >= 0 {
		ms = C.int32_t((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	rc := C.ruphin_poll(n.p, ms, &n.event)
	if rc <= 0 {
		return nil, newError(rc)
	}
	ev := &Event{Type: EventType(n.event._type), Peer: fromC(&n.event.peer)}
	if n.event.len > 0 {
		ev.Data = C.GoBytes(unsafe.Pointer(n.event.data), C.int(n.event.len))
	}
	if ev.Type == EventFailed {
		ev.Err = newError(n.event.error)
	}
	return ev, nil
}

// Wake makes a Poll waiting in another goroutine return an EventWake. Safe
// from any goroutine.
func (n *Node) Wake() error {
	if n.p == nil {
		return ErrClosed
	}
	return newError(C.ruphin_wake(n.p))
}

// Fd is the socket descriptor, for an event loop.
func (n *Node) Fd() int { return int(C.ruphin_fd(n.p)) }

// Timeout is how long until Poll must run again; ok is false when no timer is set.
func (n *Node) Timeout() (d time.Duration, ok bool) {
	ms := C.ruphin_timeout_ms(n.p)
	return time.Duration(ms) * time.Millisecond, ms >= 0
}

// State is the node's state name ("CONNECTED", "REGISTERED", "SERVING", ...).
func (n *Node) State() string {
	names := []string{"IDLE", "REGISTERING", "REGISTERED", "JOINING", "PUNCHING", "CONNECTED",
		"FAILED", "SERVING", "RELAYED"}
	s := int(C.ruphin_state(n.p))
	if s < 0 || s >= len(names) {
		return "UNKNOWN"
	}
	return names[s]
}

// LocalAddr is the address the node's socket is bound to.
func (n *Node) LocalAddr() *net.UDPAddr {
	var a C.ruphin_addr
	C.ruphin_local_addr(n.p, &a)
	return fromC(&a)
}

// Stats reads the node's counters by name (datagrams, drops, sessions, peers).
func (n *Node) Stats() map[string]int64 {
	names := []string{"rx_datagrams", "tx_datagrams", "rx_malformed", "rx_unexpected",
		"tx_failed", "events_dropped", "sessions", "sessions_refused", "register_conflicts", "peers",
		"rx_refused"}
	out := make(map[string]int64, len(names))
	for i, name := range names {
		out[name] = int64(C.ruphin_stat(n.p, C.int32_t(i)))
	}
	return out
}

func (n *Node) send(to *C.ruphin_addr, data []byte) error {
	if n.p == nil {
		return ErrClosed
	}
	var ptr *C.uint8_t
	if len(data) > 0 {
		ptr = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	return newError(C.ruphin_send(n.p, to, ptr, C.size_t(len(data))))
}

func fromC(a *C.ruphin_addr) *net.UDPAddr {
	switch a.family {
	case 4:
		return &net.UDPAddr{IP: net.IP(C.GoBytes(unsafe.Pointer(&a.ip[0]), 4)), Port: int(a.port)}
	case 6:
		return &net.UDPAddr{IP: net.IP(C.GoBytes(unsafe.Pointer(&a.ip[0]), 16)), Port: int(a.port)}
	}
	return nil
}

func toC(addr *net.UDPAddr) (*C.ruphin_addr, error) {
	if addr == nil {
		return nil, ErrInvalid
	}
	a := (*C.ruphin_addr)(C.calloc(1, C.sizeof_ruphin_addr))
	if ip4 := addr.IP.To4(); ip4 != nil {
		a.family = 4
		C.memcpy(unsafe.Pointer(&a.ip[0]), unsafe.Pointer(&ip4[0]), 4)
	} else if len(addr.IP) == net.IPv6len {
		a.family = 6
		C.memcpy(unsafe.Pointer(&a.ip[0]), unsafe.Pointer(&addr.IP[0]), 16)
	} else {
		C.free(unsafe.Pointer(a))
		return nil, ErrAddress
	}
	a.port = C.uint16_t(addr.Port)
	return a, nil
}

// Holepuncher is the rendezvous service.
type Holepuncher struct{ *Node }

// NewHolepuncher listens on bind ("addr:port"; empty: every address, port 47470).
func NewHolepuncher(bind string, opts *Options) (*Holepuncher, error) {
	copts, err := opts.toC()
	if err != nil {
		return nil, err
	}
	defer C.ruphin_options_free(copts)
	var cbind *C.char
	if bind != "" {
		cbind = C.CString(bind)
		defer C.free(unsafe.Pointer(cbind))
	}
	var p *C.ruphin_node
	if err := newError(C.ruphin_holepuncher_new(&p, cbind, copts)); err != nil {
		return nil, fmt.Errorf("holepuncher on %q: %w", bind, err)
	}
	return &Holepuncher{newNode(p)}, nil
}

type peerConstructor func(**C.ruphin_node, *C.char, *C.uint8_t, C.size_t, *C.char,
	*C.ruphin_options) C.int32_t

func newPeer(create peerConstructor, holepuncher string, session []byte, opts *Options) (*Node, error) {
	copts, err := opts.toC()
	if err != nil {
		return nil, err
	}
	defer C.ruphin_options_free(copts)
	chp := C.CString(holepuncher)
	defer C.free(unsafe.Pointer(chp))
	cbind := opts.bind()
	defer C.free(unsafe.Pointer(cbind))
	csession := C.CBytes(session)
	defer C.free(csession)
	var p *C.ruphin_node
	rc := create(&p, chp, (*C.uint8_t)(csession), C.size_t(len(session)), cbind, copts)
	if err := newError(rc); err != nil {
		return nil, fmt.Errorf("holepuncher %q: %w", holepuncher, err)
	}
	return newNode(p), nil
}

// Server is the peer that registers a session.
type Server struct{ *Node }

// NewServer registers session with the holepuncher at "host:port" (on its first Poll).
func NewServer(holepuncher string, session []byte, opts *Options) (*Server, error) {
	n, err := newPeer(func(p **C.ruphin_node, hp *C.char, id *C.uint8_t, l C.size_t, b *C.char,
		o *C.ruphin_options) C.int32_t {
		return C.ruphin_server_new(p, hp, id, l, b, o)
	}, holepuncher, session, opts)
	if err != nil {
		return nil, err
	}
	return &Server{n}, nil
}

// Send sends a datagram to a connected client.
func (s *Server) Send(data []byte, to *net.UDPAddr) error {
	a, err := toC(to)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(a))
	return s.send(a, data)
}

// Client is the peer that joins a session.
type Client struct{ *Node }

// NewClient joins session at the holepuncher at "host:port" (on its first Poll).
func NewClient(holepuncher string, session []byte, opts *Options) (*Client, error) {
	n, err := newPeer(func(p **C.ruphin_node, hp *C.char, id *C.uint8_t, l C.size_t, b *C.char,
		o *C.ruphin_options) C.int32_t {
		return C.ruphin_client_new(p, hp, id, l, b, o)
	}, holepuncher, session, opts)
	if err != nil {
		return nil, err
	}
	return &Client{n}, nil
}

// Send sends a datagram to the server.
func (c *Client) Send(data []byte) error { return c.send(nil, data) }

// ServerAddr is the server's address once known.
func (c *Client) ServerAddr() *net.UDPAddr {
	var a C.ruphin_addr
	if C.ruphin_peer_addr(c.p, &a) != C.RUPHIN_OK {
		return nil
	}
	return fromC(&a)
}
