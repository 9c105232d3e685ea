package ruphin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fast = &Options{RetransmitMS: 20, PunchIntervalMS: 20}

// pump polls every node until cond holds or 5 s pass.
func pump(t *testing.T, cond func(*Node, *Event) bool, nodes ...*Node) *Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			for {
				ev, err := n.Poll(0)
				if err != nil || ev == nil {
					break
				}
				if cond(n, ev) {
					return ev
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not met within 5 s")
	return nil
}

func is(node *Node, typ EventType) func(*Node, *Event) bool {
	return func(n *Node, ev *Event) bool { return n == node && ev.Type == typ }
}

func TestRoundTrip(t *testing.T) {
	hp, err := NewHolepuncher("127.0.0.1:0", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	addr := hp.LocalAddr().String()
	server, err := NewServer(addr, []byte("go"), fast)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	pump(t, is(server.Node, EventRegistered), hp.Node, server.Node)
	client, err := NewClient(addr, []byte("go"), fast)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ev := pump(t, is(client.Node, EventConnected), hp.Node, server.Node, client.Node)
	if ev.Peer.Port != server.LocalAddr().Port || client.ServerAddr().Port != ev.Peer.Port {
		t.Fatalf("connected to %v, server is %v", ev.Peer, server.LocalAddr())
	}
	if err := client.Send([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	ev = pump(t, is(server.Node, EventData), hp.Node, server.Node, client.Node)
	if string(ev.Data) != "ping" {
		t.Fatalf("server got %q", ev.Data)
	}
	if err := server.Send(ev.Data, ev.Peer); err != nil {
		t.Fatal(err)
	}
	ev = pump(t, is(client.Node, EventData), hp.Node, server.Node, client.Node)
	if string(ev.Data) != "ping" || client.State() != "CONNECTED" {
		t.Fatalf("client got %q in %s", ev.Data, client.State())
	}
	if err := client.Send(make([]byte, 1025)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized send: %v", err)
	}
	if hp.Stats()["sessions"] != 1 || server.Stats()["peers"] != 1 {
		t.Fatalf("stats: %v %v", hp.Stats(), server.Stats())
	}
}

func TestSessionNotFound(t *testing.T) {
	hp, _ := NewHolepuncher("127.0.0.1:0", fast)
	defer hp.Close()
	client, _ := NewClient(hp.LocalAddr().String(), []byte("missing"), fast)
	defer client.Close()
	ev := pump(t, is(client.Node, EventFailed), hp.Node, client.Node)
	if !errors.Is(ev.Err, ErrSessionNotFound) {
		t.Fatalf("FAILED with %v", ev.Err)
	}
	if _, err := client.Poll(0); !errors.Is(err, ErrFailed) {
		t.Fatalf("poll after failure: %v", err)
	}
}

func TestErrorsAndClose(t *testing.T) {
	if _, err := NewClient("no such host.invalid:1", []byte("x"), nil); !errors.Is(err, ErrAddress) {
		t.Fatalf("bad address: %v", err)
	}
	if _, err := NewHolepuncher("127.0.0.1:0", &Options{MaxPayload: 70000}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad option: %v", err)
	}
	hp, _ := NewHolepuncher("127.0.0.1:0", nil)
	if _, err := NewHolepuncher(hp.LocalAddr().String(), nil); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("address in use: %v", err)
	}
	hp.Close()
	hp.Close()
	if _, err := hp.Poll(0); err != ErrClosed {
		t.Fatalf("poll on closed node: %v", err)
	}
}

func TestWakeFromAnotherGoroutine(t *testing.T) {
	hp, _ := NewHolepuncher("127.0.0.1:0", nil)
	defer hp.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		hp.Wake()
	}()
	ev, err := hp.Poll(-1)
	if err != nil || ev.Type != EventWake {
		t.Fatalf("got %v, %v", ev, err)
	}
}

func TestEveryCoreSourceIsBundled(t *testing.T) {
	sources, _ := filepath.Glob("../../core/src/*.c")
	for _, src := range sources {
		wrapper := "core_" + filepath.Base(src)
		data, err := os.ReadFile(wrapper)
		if err != nil || !strings.Contains(string(data), filepath.Base(src)) {
			t.Errorf("%s does not include %s", wrapper, src)
		}
	}
	wrappers, _ := filepath.Glob("core_*.c")
	if len(wrappers) != len(sources) {
		t.Errorf("%d wrappers for %d core sources", len(wrappers), len(sources))
	}
}

func TestActiveEchoWithChannels(t *testing.T) {
	hp, _ := NewHolepuncher("127.0.0.1:0", fast)
	defer hp.Close()
	addr := hp.LocalAddr().String()
	server, _ := NewServer(addr, []byte("active"), fast)
	defer server.Close()
	client, _ := NewClient(addr, []byte("active"), fast)
	defer client.Close()

	hpRun, err := hp.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer hpRun.Stop()
	srvRun, _ := server.Start()
	defer srvRun.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		ev, err := srvRun.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == EventRegistered {
			break
		}
	}
	go func() { // the echo server, in its own goroutine
		for ev := range srvRun.Events() {
			if ev.Type == EventData {
				srvRun.Send(ev.Data, ev.Peer)
			}
		}
	}()
	cliRun, _ := client.Start()
	defer cliRun.Stop()
	got := 0
	for got < 3 {
		ev, err := cliRun.Next(ctx)
		if err != nil {
			t.Fatalf("after %d echoes: %v", got, err)
		}
		switch ev.Type {
		case EventConnected:
			for i := 0; i < 3; i++ {
				if err := cliRun.Send([]byte("active"), nil); err != nil {
					t.Fatal(err)
				}
			}
		case EventData:
			got++
		case EventFailed:
			t.Fatal(ev.Err)
		}
	}
	cliRun.Stop()
	cliRun.Stop()
	if _, ok := <-cliRun.Events(); ok {
		t.Fatal("events channel still open after Stop")
	}
}
