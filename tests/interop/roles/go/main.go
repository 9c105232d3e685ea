// One role of the interop matrix, in Go.
//
//	role hp LISTEN | server HP SESSION | client HP SESSION COUNT
//
// Prints READY when serving (hp, server); the client prints RECEIVED n.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	ruphin "ruphin/bindings/go"
)

var fast = &ruphin.Options{RetransmitMS: 20, PunchIntervalMS: 20}

func main() {
	var err error
	switch os.Args[1] {
	case "hp":
		err = holepuncher(os.Args[2])
	case "server":
		err = server(os.Args[2], os.Args[3])
	default:
		count, _ := strconv.Atoi(os.Args[4])
		err = client(os.Args[2], os.Args[3], count)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// waitFor polls until an event of type want (or a failure, or the timeout).
func waitFor(n *ruphin.Node, want ruphin.EventType, timeout time.Duration) (*ruphin.Event, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ev, err := n.Poll(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if ev != nil && ev.Type == ruphin.EventFailed {
			return nil, ev.Err
		}
		if ev != nil && ev.Type == want {
			return ev, nil
		}
	}
	return nil, ruphin.ErrTimeout
}

func holepuncher(listen string) error {
	hp, err := ruphin.NewHolepuncher(listen, fast)
	if err != nil {
		return err
	}
	fmt.Println("READY")
	for {
		if _, err := hp.Poll(-1); err != nil {
			return err
		}
	}
}

func server(hp, session string) error {
	s, err := ruphin.NewServer(hp, []byte(session), fast)
	if err != nil {
		return err
	}
	if _, err := waitFor(s.Node, ruphin.EventRegistered, 10*time.Second); err != nil {
		return err
	}
	fmt.Println("READY")
	for {
		ev, err := waitFor(s.Node, ruphin.EventData, time.Hour)
		if err != nil {
			return err
		}
		if err := s.Send(ev.Data, ev.Peer); err != nil {
			return err
		}
	}
}

func client(hp, session string, count int) error {
	c, err := ruphin.NewClient(hp, []byte(session), fast)
	if err != nil {
		return err
	}
	if _, err := waitFor(c.Node, ruphin.EventConnected, 10*time.Second); err != nil {
		return err
	}
	received := 0
	for i := 0; i < count; i++ {
		msg := fmt.Sprintf("go %d", i)
		if err := c.Send([]byte(msg)); err != nil {
			return err
		}
		if ev, err := waitFor(c.Node, ruphin.EventData, 2*time.Second); err == nil && string(ev.Data) == msg {
			received++
		}
	}
	fmt.Println("RECEIVED", received)
	if received == 0 {
		os.Exit(1)
	}
	return nil
}
