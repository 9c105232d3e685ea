package ruphin

/*
#include "ruphin.h"
*/
import "C"

// Options are tunables; zero values keep the library's defaults (the C
// header documents each). Times are in milliseconds.
type Options struct {
	Bind               string // peers' local "addr:port"; empty: any address, random port
	KeepaliveMS        int
	MissedKeepalives   int
	HandshakeTimeoutMS int
	RetransmitMS       int
	RetransmitMaxMS    int
	PunchIntervalMS    int
	MaxSessions        int
	MaxPeers           int
	MaxPayload         int
	SocketBuffer       int  // SO_RCVBUF/SO_SNDBUF bytes
	AcceptUnverified   bool // deliver Data from peers that did not complete the handshake
	NoInterrupt        bool // ignore LocalInterrupt datagrams from loopback
	Generation0Only    bool // speak only the original protocol
	RateLimit          int  // holepuncher: per address and second (default 200)
	NoRateLimit        bool // holepuncher: no rate limit at all
	ServeOriginals     bool // holepuncher: let sessions of original servers be joined (no-amplification mode 1)
	AllowAmplification bool // holepuncher: no amplification checks at all (mode 0; docs/SECURITY.md)
	RelayRate          int  // holepuncher: relayed bytes/s per pair (0: no relay); peers: ms before relaying
	Workers            int  // holepuncher (Linux): size of its group on one port (0: alone)
	Worker             int  // holepuncher in a group: its index, created in order
	NoSessionEvents    bool // holepuncher: no EventSessionRegistered, EventSessionJoined, EventSessionExpired
	RecoveryTimeoutMS  int  // peers: how long a lost path is looked for (EventPathLost; 0: 30000)
	NoRecovery         bool // peers: no path recovery: a silent peer is lost as before
	// Key seals the session (KeyLen bytes, from GenerateKey): a server and
	// its clients with the same key connect only with each other, and their
	// datagrams are encrypted and authenticated end to end.
	Key []byte
}

// KeyLen is the length of a sealed session's key.
const KeyLen = C.RUPHIN_KEY_LEN

// SealSupported tells whether this build seals sessions (it has libsodium).
func SealSupported() bool { return C.ruphin_seal_supported() != 0 }

// GenerateKey returns a random key for sealed sessions.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeyLen)
	if err := newError(C.ruphin_key_generate((*C.uint8_t)(&key[0]), KeyLen)); err != nil {
		return nil, err
	}
	return key, nil
}

// optionValue is one C option to set.
type optionValue struct {
	id    C.int32_t
	value int64
}

// values lists the options that differ from the defaults, in the order
// they are set (NoRateLimit after RateLimit, so that it wins).
func (o *Options) values() []optionValue {
	numbers := []optionValue{
		{C.RUPHIN_OPT_KEEPALIVE_MS, int64(o.KeepaliveMS)},
		{C.RUPHIN_OPT_MISSED_KEEPALIVES, int64(o.MissedKeepalives)},
		{C.RUPHIN_OPT_HANDSHAKE_TIMEOUT_MS, int64(o.HandshakeTimeoutMS)},
		{C.RUPHIN_OPT_RETRANSMIT_MS, int64(o.RetransmitMS)},
		{C.RUPHIN_OPT_RETRANSMIT_MAX_MS, int64(o.RetransmitMaxMS)},
		{C.RUPHIN_OPT_PUNCH_INTERVAL_MS, int64(o.PunchIntervalMS)},
		{C.RUPHIN_OPT_MAX_SESSIONS, int64(o.MaxSessions)},
		{C.RUPHIN_OPT_MAX_PEERS, int64(o.MaxPeers)},
		{C.RUPHIN_OPT_MAX_PAYLOAD, int64(o.MaxPayload)},
		{C.RUPHIN_OPT_SOCKET_BUFFER, int64(o.SocketBuffer)},
		{C.RUPHIN_OPT_RATE_LIMIT, int64(o.RateLimit)},
		{C.RUPHIN_OPT_RELAY_RATE, int64(o.RelayRate)},
		{C.RUPHIN_OPT_WORKERS, int64(o.Workers)},
		{C.RUPHIN_OPT_WORKER, int64(o.Worker)},
		{C.RUPHIN_OPT_RECOVERY_TIMEOUT_MS, int64(o.RecoveryTimeoutMS)},
	}
	// Each flag turns a C default around: the value it sets when true.
	flags := []struct {
		on bool
		optionValue
	}{
		{o.AcceptUnverified, optionValue{C.RUPHIN_OPT_ACCEPT_UNVERIFIED, 1}},
		{o.NoInterrupt, optionValue{C.RUPHIN_OPT_ALLOW_INTERRUPT, 0}},
		{o.Generation0Only, optionValue{C.RUPHIN_OPT_EXTENSIONS, 0}},
		{o.NoRateLimit, optionValue{C.RUPHIN_OPT_RATE_LIMIT, 0}},
		{o.ServeOriginals, optionValue{C.RUPHIN_OPT_NO_AMPLIFICATION, 1}},
		{o.AllowAmplification, optionValue{C.RUPHIN_OPT_NO_AMPLIFICATION, 0}}, // after: it wins
		{o.NoSessionEvents, optionValue{C.RUPHIN_OPT_SESSION_EVENTS, 0}},
		{o.NoRecovery, optionValue{C.RUPHIN_OPT_RECOVERY_TIMEOUT_MS, 0}}, // after: it wins
	}
	var out []optionValue
	for _, n := range numbers {
		if n.value != 0 {
			out = append(out, n)
		}
	}
	for _, f := range flags {
		if f.on {
			out = append(out, f.optionValue)
		}
	}
	return out
}

// toC builds the C options (nil *Options: the defaults); the caller frees them.
func (o *Options) toC() (*C.ruphin_options, error) {
	var opts *C.ruphin_options
	if err := newError(C.ruphin_options_new(&opts)); err != nil {
		return nil, err
	}
	if o == nil {
		return opts, nil
	}
	for _, v := range o.values() {
		if err := newError(C.ruphin_options_set(opts, v.id, C.int64_t(v.value))); err != nil {
			C.ruphin_options_free(opts)
			return nil, err
		}
	}
	if o.Key != nil {
		err := ErrInvalid // an empty key is refused like a short one, not taken for "none"
		if len(o.Key) > 0 {
			err = newError(C.ruphin_options_set_key(opts, (*C.uint8_t)(&o.Key[0]),
				C.size_t(len(o.Key))))
		}
		if err != nil {
			C.ruphin_options_free(opts)
			return nil, err
		}
	}
	return opts, nil
}

func (o *Options) bind() string {
	if o == nil {
		return ""
	}
	return o.Bind
}
