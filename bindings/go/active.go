package ruphin

/*
#include "ruphin.h"
*/
import "C"

import (
	"context"
	"net"
	"sync"
)

// Active drives a node from its own thread (the C library's runner): events
// arrive on a channel and Send may be called from any goroutine. While an
// Active owns the node, the node's Poll and Send return ErrActive; Wake
// still works, and Close stops the Active first.
type Active struct {
	node     *Node
	runner   *C.ruphin_runner
	events   chan *Event
	stopOnce sync.Once
	mu       sync.RWMutex // Send holds it shared; Stop exclusively, to free the runner
	stopped  bool
}

// Start hands the node to a runner until Stop.
func (n *Node) Start() (*Active, error) {
	if err := n.usable(); err != nil {
		return nil, err
	}
	a := &Active{node: n, events: make(chan *Event)}
	if err := newError(C.ruphin_runner_start(&a.runner, n.p)); err != nil {
		return nil, err
	}
	n.active = a
	go a.deliver()
	return a, nil
}

// deliver moves events from the runner to the channel until the runner has
// stopped and handed out everything; then it closes the channel. (Its
// goroutine also keeps the node reachable, so no finalizer can close the
// node under the runner.)
func (a *Active) deliver() {
	defer close(a.events)
	var ev C.ruphin_event
	for {
		// A bounded wait, so that a stop is noticed even if the C side
		// never wakes a waiting next.
		rc := C.ruphin_runner_next(a.runner, 100, &ev)
		if rc < 0 { // RUPHIN_ERR_STOPPED, or the node failed for good
			return
		}
		if rc == 1 {
			a.events <- eventFromC(&ev) // a consumer that stops reading stops the runner too
		}
	}
}

// Events delivers the node's events; it is closed after Stop (once every
// queued event was delivered) or when the node fails for good.
func (a *Active) Events() <-chan *Event { return a.events }

// Next waits for the next event, or for ctx to end. After the last event it
// returns ErrStopped.
func (a *Active) Next(ctx context.Context) (*Event, error) {
	select {
	case ev, ok := <-a.events:
		if !ok {
			return nil, ErrStopped
		}
		return ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send queues a datagram (to: a client's address for a server, nil for a
// client). Safe from any goroutine; ErrWouldBlock when the send queue is
// full, ErrStopped after Stop.
func (a *Active) Send(data []byte, to *net.UDPAddr) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.stopped {
		return ErrStopped
	}
	cto, err := toCOrNil(to)
	if err != nil {
		return err
	}
	return newError(C.ruphin_runner_send(a.runner, cto, bytesPtr(data), C.size_t(len(data))))
}

// Stop ends the runner promptly; events already queued still arrive on the
// channel, which is then closed. The node is the caller's again afterwards.
// Calling it again, from any goroutine, does nothing.
func (a *Active) Stop() {
	a.stopOnce.Do(func() {
		C.ruphin_runner_stop(a.runner)
		for range a.events { // let deliver hand out the rest and finish
		}
		a.mu.Lock()
		a.stopped = true
		C.ruphin_runner_free(a.runner)
		a.mu.Unlock()
		a.node.active = nil
	})
}
