package ruphin

/*
#include <stdlib.h>
#include "ruphin.h"
*/
import "C"

import (
	"context"
	"net"
	"unsafe"
)

// Active drives a node from its own thread (the C library's runner): events
// arrive on a channel and Send may be called from any goroutine. While an
// Active owns the node, call no other method on the node but Wake.
type Active struct {
	node   *Node
	runner *C.ruphin_runner
	events chan *Event
	done   chan struct{}
}

// Start hands the node to a runner. Stop it before closing the node.
func (n *Node) Start() (*Active, error) {
	if n.p == nil {
		return nil, ErrClosed
	}
	a := &Active{node: n, events: make(chan *Event), done: make(chan struct{})}
	if err := newError(C.ruphin_runner_start(&a.runner, n.p)); err != nil {
		return nil, err
	}
	go a.deliver()
	return a, nil
}

// deliver moves events from the runner to the channel until the runner has
// stopped and handed out everything; then it closes the channel.
func (a *Active) deliver() {
	defer close(a.events)
	var ev C.ruphin_event
	for {
		rc := C.ruphin_runner_next(a.runner, 100, &ev)
		if rc == C.RUPHIN_ERR_STOPPED || rc < 0 {
			return
		}
		if rc == 0 {
			continue
		}
		e := &Event{Type: EventType(ev._type), Peer: fromC(&ev.peer)}
		if ev.len > 0 {
			e.Data = C.GoBytes(unsafe.Pointer(ev.data), C.int(ev.len))
		}
		if e.Type == EventFailed {
			e.Err = newError(ev.error)
		}
		a.events <- e // a consumer that stops reading stops the runner too (back-pressure)
	}
}

// Events delivers the node's events; it is closed after Stop (once every
// queued event was delivered) or when the node fails for good.
func (a *Active) Events() <-chan *Event { return a.events }

// Next waits for the next event, or for ctx to end.
func (a *Active) Next(ctx context.Context) (*Event, error) {
	select {
	case ev, ok := <-a.events:
		if !ok {
			return nil, newError(C.RUPHIN_ERR_STOPPED)
		}
		return ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send queues a datagram (to: a client's address for a server, nil for a
// client). Safe from any goroutine.
func (a *Active) Send(data []byte, to *net.UDPAddr) error {
	var cto *C.ruphin_addr
	if to != nil {
		var err error
		if cto, err = toC(to); err != nil {
			return err
		}
		defer C.free(unsafe.Pointer(cto))
	}
	var ptr *C.uint8_t
	if len(data) > 0 {
		ptr = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	return newError(C.ruphin_runner_send(a.runner, cto, ptr, C.size_t(len(data))))
}

// Stop ends the runner promptly; events already queued still arrive on the
// channel, which is then closed. The node is the caller's again afterwards.
// Calling it again does nothing.
func (a *Active) Stop() {
	select {
	case <-a.done:
		return
	default:
		close(a.done)
	}
	C.ruphin_runner_stop(a.runner)
	for range a.events { // let deliver hand out the rest and finish
	}
	C.ruphin_runner_free(a.runner)
}
