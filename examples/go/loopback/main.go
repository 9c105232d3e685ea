// A holepuncher, a server and a client on loopback in one Go program: the
// client sends datagrams, the server echoes them. Exits 0 on success.
package main

import (
	"fmt"
	"os"
	"time"

	ruphin "ruphin/bindings/go"
)

func main() {
	fast := &ruphin.Options{RetransmitMS: 20, PunchIntervalMS: 20}
	hp, err := ruphin.NewHolepuncher("127.0.0.1:0", fast)
	check(err)
	defer hp.Close()
	addr := hp.LocalAddr().String()
	server, err := ruphin.NewServer(addr, []byte("go-demo"), fast)
	check(err)
	defer server.Close()
	var client *ruphin.Client
	echoed := 0
	for deadline := time.Now().Add(5 * time.Second); echoed < 3 && time.Now().Before(deadline); {
		drain(hp.Node, func(ev *ruphin.Event) {})
		drain(server.Node, func(ev *ruphin.Event) {
			switch ev.Type {
			case ruphin.EventRegistered:
				client, err = ruphin.NewClient(addr, []byte("go-demo"), fast)
				check(err)
			case ruphin.EventData:
				check(server.Send(ev.Data, ev.Peer))
			}
		})
		if client != nil {
			drain(client.Node, func(ev *ruphin.Event) {
				fmt.Println("client:", ev.Type, ev.Peer, string(ev.Data))
				switch ev.Type {
				case ruphin.EventConnected:
					for i := 1; i <= 3; i++ {
						check(client.Send([]byte(fmt.Sprintf("go %d", i))))
					}
				case ruphin.EventData:
					echoed++
				case ruphin.EventFailed:
					check(ev.Err)
				}
			})
		}
		time.Sleep(time.Millisecond)
	}
	if client != nil {
		client.Close()
	}
	fmt.Printf("echoed %d datagrams\n", echoed)
	if echoed != 3 {
		os.Exit(1)
	}
}

// drain handles every event a node has ready, without waiting.
func drain(n *ruphin.Node, handle func(*ruphin.Event)) {
	for {
		ev, err := n.Poll(0)
		check(err)
		if ev == nil {
			return
		}
		handle(ev)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
