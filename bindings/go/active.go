package ruphin

/*
#include "ruphin.h"
*/
import "C"

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// Active drives a node from its own thread (the C library's runner): events
// arrive on a channel and Send may be called from any goroutine. While an
// Active owns the node, the node's Poll and Send return ErrActive; Wake
// still works, and Close stops the Active first.
type Active struct {
	node     *Node // nil once stopped: the node's finalizer may run again
	runner   *C.ruphin_runner
	events   chan *Event
	quit     chan struct{} // closed by drop: deliver hands out nothing more
	done     chan struct{} // closed once deliver has returned
	stopOnce sync.Once
	dropOnce sync.Once
	owners   int32        // Stop and deliver: the last of them frees the runner
	mu       sync.RWMutex // Send holds it shared; freeing the runner, exclusively
	freed    bool
}

// Start hands the node to a runner until Stop.
func (n *Node) Start() (*Active, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.usableLocked(); err != nil {
		return nil, err
	}
	a := &Active{node: n, events: make(chan *Event), quit: make(chan struct{}),
		done: make(chan struct{}), owners: 2}
	if err := newError(C.ruphin_runner_start(&a.runner, n.p)); err != nil {
		return nil, err
	}
	n.active = a
	go a.deliver()
	return a, nil
}

// deliver moves events from the runner to the channel until the runner has
// stopped and handed out everything, or until drop; then it closes the
// channel. (Until Stop, a.node keeps the node reachable, so that no
// finalizer closes it under the runner.)
func (a *Active) deliver() {
	defer close(a.done)
	defer close(a.events)
	defer a.release()
	var ev C.ruphin_event
	for {
		// A bounded wait, so that a stop is noticed even if the C side
		// never wakes a waiting next.
		rc := C.ruphin_runner_next(a.runner, 100, &ev)
		if rc < 0 { // RUPHIN_ERR_STOPPED: stopped (or failed) and all handed out
			return
		}
		if rc == 1 {
			select { // a consumer that stops reading stops the runner too
			case a.events <- eventFromC(&ev):
			case <-a.quit:
				return
			}
		}
	}
}

// release gives up one owner's hold on the runner; the last frees it.
func (a *Active) release() {
	if atomic.AddInt32(&a.owners, -1) != 0 {
		return
	}
	a.mu.Lock()
	a.freed = true
	C.ruphin_runner_free(a.runner)
	a.mu.Unlock()
}

// Events delivers the node's events; it is closed after Stop once every
// queued event was received (or the node was closed), or when the node
// fails for good.
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
	if a.freed {
		return ErrStopped
	}
	cto, err := toCOrNil(to)
	if err != nil {
		return err
	}
	return newError(C.ruphin_runner_send(a.runner, cto, bytesPtr(data), C.size_t(len(data))))
}

// Stop ends the runner promptly and gives the node back to the caller.
// Events already queued are not lost: they still arrive on Events (or
// Next), which is closed after the last; closing the node drops those
// nobody received. Calling it again, from any goroutine, does nothing.
func (a *Active) Stop() {
	a.stopOnce.Do(func() {
		C.ruphin_runner_stop(a.runner)
		n := a.node
		a.node = nil
		n.mu.Lock()
		if n.active == a { // not when Close is stopping it
			n.active = nil
			n.unread = append(pending(n.unread), a)
		}
		n.mu.Unlock()
		a.release()
	})
}

// pending keeps the Actives whose goroutine still has events to hand out.
func pending(actives []*Active) []*Active {
	kept := actives[:0]
	for _, a := range actives {
		select {
		case <-a.done:
		default:
			kept = append(kept, a)
		}
	}
	return kept
}

// drop stops the Active, discards what nobody received yet and waits until
// its goroutine is gone.
func (a *Active) drop() {
	a.dropOnce.Do(func() { close(a.quit) })
	a.Stop()
	<-a.done
}
