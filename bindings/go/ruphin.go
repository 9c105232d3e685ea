// Package ruphin is the Go binding of libruphin: UDP hole punching through a
// rendezvous holepuncher. cgo compiles the bundled C core; no installed
// library is needed.
//
// A Node is not safe for concurrent use, except Wake, which any goroutine
// may call to interrupt a Poll that is waiting in another one. Node.Start
// hands a node to a thread of its own instead (see Active).
package ruphin

/*
#cgo CFLAGS: -std=c11 -I${SRCDIR}/../../core/include -I${SRCDIR}/../../core/src
#cgo !windows LDFLAGS: -lpthread
#cgo windows LDFLAGS: -lws2_32 -liphlpapi
#include <stdlib.h>
#include "ruphin.h"
*/
import "C"

import (
	"fmt"
	"math"
	"net"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Version is the C library's version.
func Version() string { return C.GoString(C.ruphin_version()) }

// EventType says what Poll reports.
type EventType int

// The events; the C header says which role reports which.
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
	EventPathLost          EventType = C.RUPHIN_EVENT_PATH_LOST
	EventPathRestored      EventType = C.RUPHIN_EVENT_PATH_RESTORED
)

func (t EventType) String() string { return C.GoString(C.ruphin_event_name(C.int32_t(t))) }

// Event is one thing that happened. Data is the payload (EventData) or the
// session id (EventSession*); Err says why for EventFailed; Previous is
// where the peer was before an EventPathRestored that found it elsewhere.
type Event struct {
	Type     EventType
	Peer     *net.UDPAddr
	Data     []byte
	Err      error
	Previous *net.UDPAddr
}

// eventFromC copies an event out of the node's memory.
func eventFromC(ev *C.ruphin_event) *Event {
	e := &Event{Type: EventType(ev._type), Peer: fromC(&ev.peer)}
	if e.Type == EventPathRestored && ev.len == C.sizeof_ruphin_addr {
		e.Previous = fromC((*C.ruphin_addr)(unsafe.Pointer(ev.data)))
	} else if ev.len > 0 {
		e.Data = C.GoBytes(unsafe.Pointer(ev.data), C.int(ev.len))
	}
	if e.Type == EventFailed {
		e.Err = newError(ev.error)
	}
	return e
}

// State is a node's state.
type State int

// The states; StateClosed is the binding's own, for a closed node.
const (
	StateClosed      State = -1
	StateIdle        State = C.RUPHIN_STATE_IDLE
	StateRegistering State = C.RUPHIN_STATE_REGISTERING
	StateRegistered  State = C.RUPHIN_STATE_REGISTERED
	StateJoining     State = C.RUPHIN_STATE_JOINING
	StatePunching    State = C.RUPHIN_STATE_PUNCHING
	StateConnected   State = C.RUPHIN_STATE_CONNECTED
	StateFailed      State = C.RUPHIN_STATE_FAILED
	StateServing     State = C.RUPHIN_STATE_SERVING
	StateRelayed     State = C.RUPHIN_STATE_RELAYED
	StateRecovering  State = C.RUPHIN_STATE_RECOVERING
)

var stateNames = map[State]string{
	StateClosed: "CLOSED", StateIdle: "IDLE", StateRegistering: "REGISTERING",
	StateRegistered: "REGISTERED", StateJoining: "JOINING", StatePunching: "PUNCHING",
	StateConnected: "CONNECTED", StateFailed: "FAILED", StateServing: "SERVING",
	StateRelayed: "RELAYED", StateRecovering: "RECOVERING",
}

func (s State) String() string {
	if name, ok := stateNames[s]; ok {
		return name
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// PollBatchMax is the most events one PollMany returns.
const PollBatchMax = C.RUPHIN_POLL_BATCH_MAX

// Node is what the three roles share.
type Node struct {
	p      *C.ruphin_node
	events [PollBatchMax]C.ruphin_event
	mu     sync.Mutex // guards active and unread: Active.Stop runs on any goroutine
	active *Active    // while a runner drives the node
	unread []*Active  // stopped, with events not yet received; Close drops them
	joined []byte     // SendMany's payloads back to back, kept for the next call
	lens   []C.size_t // and their lengths
}

func newNode(p *C.ruphin_node) *Node {
	n := &Node{p: p}
	runtime.SetFinalizer(n, func(n *Node) { n.Close() }) // a safety net; call Close
	return n
}

// Close stops the node's Active if it has one, then frees the node and its
// socket. Calling it again does nothing.
func (n *Node) Close() error {
	n.mu.Lock()
	actives := n.unread
	if n.active != nil {
		actives = append(actives, n.active)
	}
	n.active, n.unread = nil, nil
	n.mu.Unlock()
	for _, a := range actives {
		a.drop()
	}
	if n.p != nil {
		C.ruphin_close(n.p)
		n.p = nil
	}
	return nil
}

// usable is the error for a node that cannot be polled or sent on now.
func (n *Node) usable() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.usableLocked()
}

func (n *Node) usableLocked() error {
	if n.p == nil {
		return ErrClosed
	}
	if n.active != nil {
		return ErrActive
	}
	return nil
}

// Poll runs the protocol for up to timeout (0: do not wait; negative: until
// an event) and returns the next event, or nil when the time passed.
func (n *Node) Poll(timeout time.Duration) (*Event, error) {
	if err := n.usable(); err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(n) // the finalizer must not close the node during the call
	rc := C.ruphin_poll(n.p, timeoutMS(timeout), &n.events[0])
	if rc <= 0 {
		return nil, newError(rc)
	}
	return eventFromC(&n.events[0]), nil
}

// PollMany is Poll for up to max events (at most PollBatchMax; max <= 0
// means that many) with one call into the core: it waits up to timeout for
// the first, then takes those ready without waiting. An empty slice when
// the time passed with none.
func (n *Node) PollMany(timeout time.Duration, max int) ([]*Event, error) {
	if err := n.usable(); err != nil {
		return nil, err
	}
	if max <= 0 || max > PollBatchMax {
		max = PollBatchMax
	}
	defer runtime.KeepAlive(n)
	rc := C.ruphin_poll_batch(n.p, timeoutMS(timeout), &n.events[0], C.int32_t(max))
	if rc < 0 {
		return nil, newError(rc)
	}
	out := make([]*Event, rc)
	for i := range out {
		out[i] = eventFromC(&n.events[i])
	}
	return out, nil
}

// timeoutMS rounds a timeout up to whole milliseconds for the C library.
func timeoutMS(timeout time.Duration) C.int32_t {
	if timeout < 0 {
		return C.RUPHIN_WAIT_FOREVER
	}
	ms := timeout / time.Millisecond
	if timeout%time.Millisecond != 0 {
		ms++
	}
	if ms > math.MaxInt32 {
		ms = math.MaxInt32
	}
	return C.int32_t(ms)
}

// Wake makes a Poll waiting in another goroutine return an EventWake. Safe
// from any goroutine while the node is open.
func (n *Node) Wake() error {
	if n.p == nil {
		return ErrClosed
	}
	defer runtime.KeepAlive(n)
	return newError(C.ruphin_wake(n.p))
}

// Fd is the socket descriptor, for an event loop (-1 once closed).
func (n *Node) Fd() int {
	defer runtime.KeepAlive(n)
	if n.p == nil {
		return -1
	}
	return int(C.ruphin_fd(n.p))
}

// Timeout is how long until Poll must run again; ok is false when no timer is set.
func (n *Node) Timeout() (d time.Duration, ok bool) {
	defer runtime.KeepAlive(n)
	ms := C.ruphin_timeout_ms(n.p)
	return time.Duration(ms) * time.Millisecond, ms >= 0
}

// State is the node's state (StateConnected, StateRegistered, ...).
func (n *Node) State() State {
	defer runtime.KeepAlive(n)
	if n.p == nil {
		return StateClosed
	}
	return State(C.ruphin_state(n.p))
}

// LocalAddr is the address the node's socket is bound to (nil once closed).
func (n *Node) LocalAddr() *net.UDPAddr {
	defer runtime.KeepAlive(n)
	var a C.ruphin_addr
	if C.ruphin_local_addr(n.p, &a) != C.RUPHIN_OK {
		return nil
	}
	return fromC(&a)
}

var statNames = [...]string{"rx_datagrams", "tx_datagrams", "rx_malformed", "rx_unexpected",
	"tx_failed", "events_dropped", "sessions", "sessions_refused", "register_conflicts", "peers",
	"rx_refused", "rx_rejected", "tx_dropped", "requests_register", "requests_join",
	"requests_hello", "requests_probe", "requests_unregister", "requests_relay",
	"refused_rate_limit", "refused_amplification", "refused_unproven_owner",
	"refused_relay_budget", "relayed_bytes", "relay_pairs"}

// Compile-time checks that statNames names every counter of ruphin.h: one
// of these constants overflows uint when the counts differ.
const (
	_ = uint(len(statNames) - C.RUPHIN_STAT_COUNT)
	_ = uint(C.RUPHIN_STAT_COUNT - len(statNames))
)

// Stats reads the node's counters by name (datagrams, drops, sessions,
// peers); nil once the node is closed.
func (n *Node) Stats() map[string]int64 {
	defer runtime.KeepAlive(n)
	if n.p == nil {
		return nil
	}
	out := make(map[string]int64, len(statNames))
	for i, name := range statNames {
		out[name] = int64(C.ruphin_stat(n.p, C.int32_t(i)))
	}
	return out
}

func (n *Node) send(to *net.UDPAddr, data []byte) error {
	if err := n.usable(); err != nil {
		return err
	}
	cto, err := toCOrNil(to)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(n)
	return newError(C.ruphin_send(n.p, cto, bytesPtr(data), C.size_t(len(data))))
}

// sendMany sends the datagrams in order with one call into the core; the
// first that fails stops it: sent is how many went out before it.
func (n *Node) sendMany(to *net.UDPAddr, datagrams [][]byte) (sent int, err error) {
	if err := n.usable(); err != nil {
		return 0, err
	}
	cto, err := toCOrNil(to)
	if err != nil {
		return 0, err
	}
	n.joined, n.lens = n.joined[:0], n.lens[:0]
	for _, d := range datagrams {
		n.joined = append(n.joined, d...)
		n.lens = append(n.lens, C.size_t(len(d)))
	}
	var lens *C.size_t
	if len(n.lens) > 0 {
		lens = &n.lens[0]
	}
	var csent C.size_t
	defer runtime.KeepAlive(n)
	rc := C.ruphin_send_batch(n.p, cto, bytesPtr(n.joined), lens, C.size_t(len(n.lens)), &csent)
	return int(csent), newError(rc)
}

// bytesPtr points C at data for the length of one call (nil when empty).
func bytesPtr(data []byte) *C.uint8_t {
	if len(data) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&data[0]))
}

// Holepuncher is the rendezvous service.
type Holepuncher struct{ *Node }

// NewHolepuncher listens on bind ("addr:port"; empty: every address, a random port).
func NewHolepuncher(bind string, opts *Options) (*Holepuncher, error) {
	copts, err := opts.toC()
	if err != nil {
		return nil, err
	}
	defer C.ruphin_options_free(copts)
	cbind := cString(bind)
	defer C.free(unsafe.Pointer(cbind))
	var p *C.ruphin_node
	if err := newError(C.ruphin_holepuncher_new(&p, cbind, copts)); err != nil {
		return nil, fmt.Errorf("holepuncher on %q: %w", bind, err)
	}
	return &Holepuncher{newNode(p)}, nil
}

// cString is s for C, or NULL for the empty string (C.free(NULL) is fine).
func cString(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// newPeer creates a server or client node.
func newPeer(role C.int32_t, holepuncher string, session []byte, opts *Options) (*Node, error) {
	copts, err := opts.toC()
	if err != nil {
		return nil, err
	}
	defer C.ruphin_options_free(copts)
	chp := C.CString(holepuncher)
	defer C.free(unsafe.Pointer(chp))
	cbind := cString(opts.bind())
	defer C.free(unsafe.Pointer(cbind))
	id, idLen := (*C.uint8_t)(C.CBytes(session)), C.size_t(len(session))
	defer C.free(unsafe.Pointer(id))
	var p *C.ruphin_node
	var rc C.int32_t
	if role == C.RUPHIN_ROLE_SERVER {
		rc = C.ruphin_server_new(&p, chp, id, idLen, cbind, copts)
	} else {
		rc = C.ruphin_client_new(&p, chp, id, idLen, cbind, copts)
	}
	if err := newError(rc); err != nil {
		return nil, fmt.Errorf("peer of holepuncher %q (bind %q): %w", holepuncher, opts.bind(), err)
	}
	return newNode(p), nil
}

// Server is the peer that registers a session.
type Server struct{ *Node }

// NewServer registers session with the holepuncher at "host:port" (on its first Poll).
func NewServer(holepuncher string, session []byte, opts *Options) (*Server, error) {
	n, err := newPeer(C.RUPHIN_ROLE_SERVER, holepuncher, session, opts)
	if err != nil {
		return nil, err
	}
	return &Server{n}, nil
}

// SendMany sends the datagrams, in order, to a connected client with as few
// system calls as the OS allows. The first that fails stops it: sent is how
// many went out before it, err that one's error.
func (s *Server) SendMany(datagrams [][]byte, to *net.UDPAddr) (sent int, err error) {
	return s.sendMany(to, datagrams)
}

// Send sends a datagram to a connected client.
func (s *Server) Send(data []byte, to *net.UDPAddr) error {
	if to == nil {
		return fmt.Errorf("server send without a client address: %w", ErrInvalid)
	}
	return s.send(to, data)
}

// Client is the peer that joins a session.
type Client struct{ *Node }

// NewClient joins session at the holepuncher at "host:port" (on its first Poll).
func NewClient(holepuncher string, session []byte, opts *Options) (*Client, error) {
	n, err := newPeer(C.RUPHIN_ROLE_CLIENT, holepuncher, session, opts)
	if err != nil {
		return nil, err
	}
	return &Client{n}, nil
}

// Send sends a datagram to the server.
func (c *Client) Send(data []byte) error { return c.send(nil, data) }

// SendMany sends the datagrams, in order, to the server with as few system
// calls as the OS allows. The first that fails stops it: sent is how many
// went out before it, err that one's error.
func (c *Client) SendMany(datagrams [][]byte) (sent int, err error) {
	return c.sendMany(nil, datagrams)
}

// ServerAddr is the server's address once known (else nil).
func (c *Client) ServerAddr() *net.UDPAddr {
	defer runtime.KeepAlive(c.Node)
	var a C.ruphin_addr
	if C.ruphin_peer_addr(c.p, &a) != C.RUPHIN_OK {
		return nil
	}
	return fromC(&a)
}
