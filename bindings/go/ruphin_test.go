package ruphin

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
	if string(ev.Data) != "ping" || client.State() != StateConnected {
		t.Fatalf("client got %q in %s", ev.Data, client.State())
	}
	if err := client.Send(make([]byte, 1025)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized send: %v", err)
	}
	if hp.Stats()["sessions"] != 1 || server.Stats()["peers"] != 1 {
		t.Fatalf("stats: %v %v", hp.Stats(), server.Stats())
	}
}

func TestHolepuncherWithoutSessionEvents(t *testing.T) {
	opts := *fast
	opts.NoSessionEvents = true
	hp, err := NewHolepuncher("127.0.0.1:0", &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	reported := 0
	fromHP := func(cond func(*Node, *Event) bool) func(*Node, *Event) bool {
		return func(n *Node, ev *Event) bool {
			if n == hp.Node {
				reported++
			}
			return cond(n, ev)
		}
	}
	server, _ := NewServer(hp.LocalAddr().String(), []byte("unreported"), fast)
	defer server.Close()
	pump(t, fromHP(is(server.Node, EventRegistered)), hp.Node, server.Node)
	client, _ := NewClient(hp.LocalAddr().String(), []byte("unreported"), fast)
	defer client.Close()
	pump(t, fromHP(is(client.Node, EventConnected)), hp.Node, server.Node, client.Node)
	if reported != 0 || hp.Stats()["sessions"] != 1 {
		t.Fatalf("%d events from the holepuncher, stats %v", reported, hp.Stats())
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
	_, err := NewClient("no such host.invalid:1", []byte("x"), nil)
	var code *Error // the constructor's error wraps the C code
	if !errors.Is(err, ErrAddress) || !errors.As(err, &code) || code.Code != -3 {
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
	if hp.State() != StateClosed || hp.State().String() != "CLOSED" || hp.Fd() != -1 ||
		hp.LocalAddr() != nil || hp.Stats() != nil {
		t.Fatalf("closed node: %v %d %v %v", hp.State(), hp.Fd(), hp.LocalAddr(), hp.Stats())
	}
	if _, ok := hp.Timeout(); ok {
		t.Fatal("a closed node has no timer")
	}
	server, _ := NewServer("127.0.0.1:1", []byte("x"), nil)
	defer server.Close()
	if err := server.Send([]byte("x"), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("server send without an address: %v", err)
	}
	if err := server.Send([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("server send to a stranger: %v", err)
	}
	if err := server.Send([]byte("x"), &net.UDPAddr{IP: net.IP{1, 2, 3}, Port: 9}); !errors.Is(err, ErrAddress) {
		t.Fatalf("server send to a 3-byte IP: %v", err)
	}
	var cerr *Error
	if !errors.As(ErrSessionNotFound, &cerr) || cerr.Code != -14 {
		t.Fatalf("sentinel code: %v", cerr)
	}
}

func TestFinalizerClosesForgottenNodes(t *testing.T) {
	addr := func() string { // the node goes out of reach when this returns
		hp, err := NewHolepuncher("127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewHolepuncher(hp.LocalAddr().String(), nil); !errors.Is(err, ErrAddrInUse) {
			t.Fatalf("port not taken while the node lives: %v", err)
		}
		return hp.LocalAddr().String()
	}()
	for i := 0; i < 100; i++ { // finalizers run on their own goroutine, after a GC
		runtime.GC()
		if hp, err := NewHolepuncher(addr, nil); err == nil {
			hp.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the forgotten node still holds its port")
}

func TestTimeoutRoundsUpAndClamps(t *testing.T) {
	cases := map[time.Duration]int32{-1: -1, 0: 0, time.Microsecond: 1, 1500 * time.Microsecond: 2,
		time.Duration(math.MaxInt64): math.MaxInt32}
	for in, want := range cases {
		if got := int32(timeoutMS(in)); got != want {
			t.Errorf("timeoutMS(%v) = %d, want %d", in, got, want)
		}
	}
}

func TestAddressConversion(t *testing.T) {
	for _, addr := range []*net.UDPAddr{
		{IP: net.IPv4(192, 0, 2, 1), Port: 47470},
		{IP: net.ParseIP("2001:db8::1"), Port: 1},
		{IP: net.ParseIP("fe80::1"), Port: 65535, Zone: "3"},
	} {
		c, err := toC(addr)
		if err != nil {
			t.Fatal(err)
		}
		if back := fromC(&c); back.String() != addr.String() {
			t.Errorf("%v came back as %v", addr, back)
		}
	}
	if _, err := toC(&net.UDPAddr{IP: net.ParseIP("fe80::1"), Zone: "no-such-interface0"}); !errors.Is(err, ErrAddress) {
		t.Errorf("unknown zone: %v", err)
	}
	if _, err := toC(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 70000}); !errors.Is(err, ErrAddress) {
		t.Errorf("port out of range: %v", err)
	}
}

func TestOptionsReachTheCore(t *testing.T) {
	if _, err := NewHolepuncher("127.0.0.1:0", &Options{RetransmitMS: -5}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative retransmission accepted: %v", err)
	}
	got := map[int64]int64{}
	for _, v := range (&Options{RateLimit: 50, NoRateLimit: true, Generation0Only: true}).values() {
		got[int64(v.id)] = v.value // later entries win, as in the C options
	}
	if len(got) != 2 || got[14] != 0 || got[13] != 0 {
		t.Fatalf("options: %v", got)
	}
	modes := []struct {
		o    Options
		want int64
	}{{Options{ServeOriginals: true}, 1}, {Options{AllowAmplification: true}, 0},
		{Options{ServeOriginals: true, AllowAmplification: true}, 0}}
	for _, m := range modes {
		v := m.o.values()
		if len(v) == 0 || v[len(v)-1].id != 15 || v[len(v)-1].value != m.want {
			t.Fatalf("%+v: %v", m.o, v)
		}
	}
}

func TestIPv6RoundTrip(t *testing.T) {
	hp, err := NewHolepuncher("[::1]:0", fast)
	if errors.Is(err, ErrAddrNotAvailable) || errors.Is(err, ErrAddressFamily) {
		t.Skip("this host has no IPv6 loopback")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	addr := hp.LocalAddr().String()
	server, _ := NewServer(addr, []byte("v6"), fast)
	defer server.Close()
	pump(t, is(server.Node, EventRegistered), hp.Node, server.Node)
	client, _ := NewClient(addr, []byte("v6"), fast)
	defer client.Close()
	pump(t, is(client.Node, EventConnected), hp.Node, server.Node, client.Node)
	if err := client.Send([]byte("six")); err != nil {
		t.Fatal(err)
	}
	ev := pump(t, is(server.Node, EventData), hp.Node, server.Node, client.Node)
	if ev.Peer.IP.To4() != nil || !ev.Peer.IP.IsLoopback() {
		t.Fatalf("client seen as %v", ev.Peer)
	}
	if err := server.Send(ev.Data, ev.Peer); err != nil {
		t.Fatal(err)
	}
	ev = pump(t, is(client.Node, EventData), hp.Node, server.Node, client.Node)
	if string(ev.Data) != "six" {
		t.Fatalf("client got %q", ev.Data)
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
	if _, err := client.Poll(0); err != ErrActive {
		t.Fatalf("poll on an active node: %v", err)
	}
	cliRun.Stop()
	cliRun.Stop()
	for range cliRun.Events() { // closed once what was queued is received
	}
	if err := cliRun.Send([]byte("late"), nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("send after stop: %v", err)
	}
	if err := client.Send([]byte("passive again")); err != nil {
		t.Fatalf("the node is not the caller's again after Stop: %v", err)
	}
	// Close stops a running Active before freeing its node.
	if _, err := server.Start(); err != ErrActive {
		t.Fatalf("second Start: %v", err)
	}
	srvRun.Stop()
	again, err := server.Start()
	if err != nil {
		t.Fatal(err)
	}
	server.Close()
	if _, ok := <-again.Events(); ok {
		t.Fatal("Close left the Active running")
	}
}

func TestSealedSession(t *testing.T) {
	if !SealSupported() {
		t.Skip("built without libsodium")
	}
	key, err := GenerateKey()
	if err != nil || len(key) != KeyLen {
		t.Fatal(key, err)
	}
	if _, err := NewClient("127.0.0.1:9", []byte("x"), &Options{Key: key[:5]}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short key: %v", err)
	}
	sealed := &Options{RetransmitMS: 20, PunchIntervalMS: 20, HandshakeTimeoutMS: 1000, Key: key}
	hp, _ := NewHolepuncher("127.0.0.1:0", fast)
	defer hp.Close()
	addr := hp.LocalAddr().String()
	server, err := NewServer(addr, []byte("sealed"), sealed)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	pump(t, is(server.Node, EventRegistered), hp.Node, server.Node)
	client, _ := NewClient(addr, []byte("sealed"), sealed)
	defer client.Close()
	pump(t, is(client.Node, EventConnected), hp.Node, server.Node, client.Node)
	if err := client.Send([]byte("sealed from go")); err != nil {
		t.Fatal(err)
	}
	ev := pump(t, is(server.Node, EventData), hp.Node, server.Node, client.Node)
	if string(ev.Data) != "sealed from go" {
		t.Fatalf("server got %q", ev.Data)
	}
	other, _ := GenerateKey()
	intruder, _ := NewClient(addr, []byte("sealed"),
		&Options{RetransmitMS: 20, PunchIntervalMS: 20, HandshakeTimeoutMS: 1000, Key: other})
	defer intruder.Close()
	ev = pump(t, is(intruder.Node, EventFailed), hp.Node, server.Node, client.Node, intruder.Node)
	if ev.Err == nil || !errors.Is(ev.Err, ErrAuth) {
		t.Fatalf("intruder failed with %v", ev.Err)
	}
}

// activeWorld is a holepuncher and a registered server, each driven by an
// Active, and a client connected through its own Active.
type activeWorld struct {
	hp                          *Holepuncher
	server                      *Server
	client                      *Client
	hpRun, serverRun, clientRun *Active
}

func nextOfType(t *testing.T, a *Active, typ EventType) *Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		ev, err := a.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", typ, err)
		}
		if ev.Type == typ {
			return ev
		}
	}
}

func openActiveWorld(t *testing.T, session string) *activeWorld {
	t.Helper()
	w := &activeWorld{}
	w.hp, _ = NewHolepuncher("127.0.0.1:0", fast)
	addr := w.hp.LocalAddr().String()
	w.server, _ = NewServer(addr, []byte(session), fast)
	w.client, _ = NewClient(addr, []byte(session), fast)
	var err error
	if w.hpRun, err = w.hp.Start(); err != nil {
		t.Fatal(err)
	}
	w.serverRun, _ = w.server.Start()
	nextOfType(t, w.serverRun, EventRegistered)
	w.clientRun, _ = w.client.Start()
	nextOfType(t, w.clientRun, EventConnected)
	return w
}

func (w *activeWorld) close() {
	w.client.Close()
	w.server.Close()
	w.hp.Close()
}

// Stop keeps the events already queued: they still arrive on the channel,
// and with what the node itself still holds every datagram is accounted for.
func TestActiveStopKeepsQueuedEvents(t *testing.T) {
	const n = 20
	w := openActiveWorld(t, "stopkeeps")
	defer w.close()
	for i := 0; i < n; i++ {
		if err := w.clientRun.Send([]byte{byte(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // nobody receives meanwhile: they queue
	w.serverRun.Stop()
	seen := make(map[byte]int)
	afterStop := 0
	for ev := range w.serverRun.Events() {
		if ev.Type == EventData && len(ev.Data) == 1 {
			seen[ev.Data[0]]++
			afterStop++
		}
	}
	if afterStop == 0 {
		t.Fatal("no event was handed out after Stop")
	}
	for { // the node is the caller's again
		ev, err := w.server.Poll(200 * time.Millisecond)
		if err != nil || ev == nil {
			break
		}
		if ev.Type == EventData && len(ev.Data) == 1 {
			seen[ev.Data[0]]++
		}
	}
	for i := 0; i < n; i++ {
		if seen[byte(i)] != 1 {
			t.Fatalf("datagram %d seen %d times (%d after Stop)", i, seen[byte(i)], afterStop)
		}
	}
}

// Close drops what a stopped Active still holds: its channel closes and its
// goroutine ends, so an Active nobody drains does not leak.
func TestCloseDropsUnreceivedEvents(t *testing.T) {
	w := openActiveWorld(t, "drop")
	for i := 0; i < 5; i++ {
		w.clientRun.Send([]byte("unread"), nil)
	}
	time.Sleep(100 * time.Millisecond)
	w.serverRun.Stop()
	w.close()
	for range w.serverRun.Events() {
		t.Fatal("an event arrived after Close")
	}
}

func TestNextHonoursTheContext(t *testing.T) {
	hp, _ := NewHolepuncher("127.0.0.1:0", nil)
	defer hp.Close()
	run, _ := hp.Start()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := run.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := run.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
}

func TestStartNeedsInterrupt(t *testing.T) {
	hp, _ := NewHolepuncher("127.0.0.1:0", &Options{NoInterrupt: true})
	defer hp.Close()
	if _, err := hp.Start(); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Start without interrupt: %v", err)
	}
	if _, err := hp.Poll(0); err != nil {
		t.Fatalf("the node is still the caller's: %v", err)
	}
}

// Senders, a consumer, Stop and Close on different goroutines at once
// (go test -race judges).
func TestActiveConcurrentSendStopClose(t *testing.T) {
	w := openActiveWorld(t, "crowd")
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := w.clientRun.Send([]byte("crowd"), nil)
				if errors.Is(err, ErrStopped) {
					return
				}
				if err != nil && !errors.Is(err, ErrWouldBlock) {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range w.clientRun.Events() {
		}
	}()
	time.Sleep(50 * time.Millisecond)
	wg.Add(1)
	go func() { defer wg.Done(); w.clientRun.Stop() }()
	w.close()
	wg.Wait()
}

// connectedPair gives a holepuncher, a server and a client connected to it.
func connectedPair(t *testing.T, session string) (*Holepuncher, *Server, *Client) {
	t.Helper()
	hp, err := NewHolepuncher("127.0.0.1:0", fast)
	if err != nil {
		t.Fatal(err)
	}
	addr := hp.LocalAddr().String()
	server, _ := NewServer(addr, []byte(session), fast)
	pump(t, is(server.Node, EventRegistered), hp.Node, server.Node)
	client, _ := NewClient(addr, []byte(session), fast)
	pump(t, is(client.Node, EventConnected), hp.Node, server.Node, client.Node)
	return hp, server, client
}

// dataMany takes the DATA node gets with PollMany until count came (or 3 s),
// and the largest number of events one call returned.
func dataMany(t *testing.T, node *Node, count, max int) (got []*Event, largest int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for len(got) < count && time.Now().Before(deadline) {
		evs, err := node.PollMany(10*time.Millisecond, max)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > largest {
			largest = len(evs)
		}
		for _, ev := range evs {
			if ev.Type == EventData {
				got = append(got, ev)
			}
		}
	}
	if len(got) != count {
		t.Fatalf("got %d datagrams, want %d", len(got), count)
	}
	return got, largest
}

func TestSendManyAndPollMany(t *testing.T) {
	hp, server, client := connectedPair(t, "many")
	defer hp.Close()
	defer server.Close()
	defer client.Close()
	var batch [][]byte
	for i := 0; i < 150; i++ { // more than one send queue and receive batch
		batch = append(batch, []byte(strings.Repeat(string(rune('a'+i%26)), i)))
	}
	if sent, err := client.SendMany(batch); sent != 150 || err != nil {
		t.Fatalf("SendMany: %d, %v", sent, err)
	}
	got, largest := dataMany(t, server.Node, 150, 0)
	for i, ev := range got {
		if string(ev.Data) != string(batch[i]) {
			t.Fatalf("datagram %d: %q, want %q", i, ev.Data, batch[i])
		}
	}
	if largest != PollBatchMax {
		t.Fatalf("at most %d events per PollMany", largest)
	}
	if sent, err := server.SendMany([][]byte{[]byte("x"), []byte("y")}, got[0].Peer); sent != 2 || err != nil {
		t.Fatalf("server SendMany: %d, %v", sent, err)
	}
	back, largest := dataMany(t, client.Node, 2, 1)
	if string(back[0].Data) != "x" || string(back[1].Data) != "y" || largest != 1 {
		t.Fatalf("client got %q %q, %d per call", back[0].Data, back[1].Data, largest)
	}
	if sent, err := client.SendMany(nil); sent != 0 || err != nil {
		t.Fatalf("empty SendMany: %d, %v", sent, err)
	}
}

func TestSendManyStopsAtTheFirstFailure(t *testing.T) {
	hp, server, client := connectedPair(t, "partial")
	defer hp.Close()
	defer server.Close()
	defer client.Close()
	sent, err := client.SendMany([][]byte{[]byte("one"), []byte("two"), make([]byte, 1025), []byte("never")})
	if sent != 2 || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("SendMany: %d, %v", sent, err)
	}
	got, _ := dataMany(t, server.Node, 2, 0)
	if string(got[0].Data) != "one" || string(got[1].Data) != "two" {
		t.Fatalf("server got %q %q", got[0].Data, got[1].Data)
	}
	if evs, _ := server.PollMany(50*time.Millisecond, 0); len(evs) != 0 {
		t.Fatalf("more arrived: %v", evs)
	}
	nobody := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	if sent, err := server.SendMany([][]byte{[]byte("x")}, nobody); sent != 0 || !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("to an unknown peer: %d, %v", sent, err)
	}
	client.Close()
	if _, err := client.SendMany([][]byte{[]byte("x")}); err != ErrClosed {
		t.Fatalf("closed: %v", err)
	}
	if _, err := client.PollMany(0, 0); err != ErrClosed {
		t.Fatalf("closed: %v", err)
	}
}
