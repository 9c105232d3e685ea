"""The NAT lab: real Linux NATs (iptables) in network namespaces.

One namespace per host. The "internet" is a bridge (203.0.113.0/24) with the
holepuncher on it; each peer is on it directly (kind "public") or sits behind
a router namespace that does NAT for its LAN (198.18.0.0/24), or behind a home
router whose WAN is a carrier NAT's LAN (100.64.x.0/24). Like real home
networks, every LAN uses the same subnet: the server's host is 198.18.0.2 and
the client's 198.18.0.3, so a LAN address says nothing about which router it
is behind.

Network conditions apply where a packet enters from the internet (the
holepuncher's and a public peer's interface, a router's WAN): first random
loss (`-m statistic`), then a one-way delay by the NFQUEUE helper
nfq_delay.c, both in the raw table's PREROUTING, before conntrack sees the
packet. Every path across the internet thus has the delay once per direction.

Namespaces are named rl<pid>-<n>-<host> and removed on exit from the `with`
block, at interpreter exit (atexit), and by sweep_stale() once their process
is gone. See docs/NAT.md for the kinds.

The mapping-capable kinds (PORTMAP_KINDS) put a real router daemon on the
home router: Debian's miniupnpd (nftables backend), serving UPnP IGD and/or
NAT-PMP and PCP to its LAN, its NAT and firewall in nftables tables of the
layout miniupnpd's nft_init.sh makes. miniupnpd refuses a WAN address in a
reserved range (all of the lab's internet is), so these routers' public
addresses are in PORTMAP_NET, an ordinary public range that exists only in
the lab: the namespaces have no link to the host's network, so nothing
addressed there leaves them.
"""
import atexit
import functools
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Kinds of NAT a peer can be behind (docs/NAT.md). SAME_NAT is a pair of its
# own: both peers behind one router.
KINDS = ["public", "fullcone", "restricted", "restricted-open", "symmetric", "double"]
SAME_NAT = "samenat"
# Home routers that map ports on request (miniupnpd): kind -> (the NAT's
# kind, UPnP on, NAT-PMP and PCP on, behind a symmetric carrier NAT).
PORTMAP = {"symmetric-upnp": ("symmetric", True, False, False),
           "symmetric-natpmp": ("symmetric", False, True, False),
           "double-upnp": ("restricted", True, True, True)}
PORTMAP_KINDS = list(PORTMAP)
ALL_KINDS = KINDS + PORTMAP_KINDS
# Kinds whose peers get a new public port per destination (until they map one).
SYMMETRIC_KINDS = {"symmetric", *PORTMAP_KINDS}
# The public addresses of miniupnpd's routers, 203.0.114.1<index>: next to the
# lab's TEST-NET-3, not reserved (miniupnpd's list), only ever inside the lab.
PORTMAP_NET = "203.0.114"
NATPMP_PORT = 5351  # NAT-PMP and PCP

PROBE = os.path.join(HERE, "udp_probe.py")
HP_ADDR = "203.0.113.1"
CORE = "198.51.100.254"  # the internet's core router
HP_PORT = 47470
INDEX = {"server": 1, "client": 2}   # public address 203.0.113.1<index>
LAN_HOST = {"server": "198.18.0.2", "client": "198.18.0.3"}
LAN_GW = "198.18.0.1"
_NS_RE = re.compile(r"^rl(\d+)-\d+-")
_counter = itertools.count()


def _ns_exec(ns, argv):
    return ["ip", "netns", "exec", ns, *argv]


def _try(argv):
    return subprocess.run(argv, capture_output=True, text=True)


@functools.lru_cache(maxsize=None)
def available():
    """None when the lab can run here, else why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "the NAT lab needs root (network namespaces, iptables)"
    for tool in ("ip", "iptables", "cc", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/test.sh installs it)"
    if not os.path.exists("/usr/include/libnetfilter_queue/libnetfilter_queue.h"):
        return "libnetfilter-queue-dev is not installed (scripts/test.sh installs it)"
    probe = f"rl{os.getpid()}-probe-{next(_counter)}"
    if _try(["ip", "netns", "add", probe]).returncode != 0:
        return "network namespaces are not available here"
    try:
        # Every kind of rule the lab uses, so a kernel without a module fails here.
        for rule in ("-t nat -A POSTROUTING -o lo -j MASQUERADE --random-fully",
                     "-t nat -A PREROUTING -i lo -p udp -j DNAT --to-destination 127.0.0.1",
                     "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                     "-t raw -A PREROUTING -m statistic --mode random --probability 0.5 -j DROP",
                     "-t raw -A PREROUTING -p udp -j NFQUEUE --queue-num 1"):
            result = _try(_ns_exec(probe, ["iptables", *rule.split()]))
            if result.returncode != 0:
                return f"iptables cannot do `{rule}`: {result.stderr.strip()}"
        if _try(["ip", "-n", probe, "link", "add", "br0", "type", "bridge"]).returncode != 0:
            return "the kernel has no bridge support"
    finally:
        _try(["ip", "netns", "del", probe])
    return None


@functools.lru_cache(maxsize=None)
def portmap_available():
    """None when the mapping-capable kinds can run here, else why not."""
    why = available()
    if why:
        return why
    for tool, package in (("miniupnpd", "miniupnpd-nftables"), ("nft", "nftables"),
                          ("natpmpc", "natpmpc"), ("upnpc", "miniupnpc")):
        if _which(tool) is None:
            return f"{tool} is not installed (Debian package {package})"
    return None


def _which(tool):
    """A program's path, also in sbin when PATH lacks it."""
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def sweep_stale():
    """Removes the namespaces of lab runs whose process is gone."""
    for ns in _try(["ip", "netns", "list"]).stdout.split("\n"):
        name = ns.split(" ")[0]
        m = _NS_RE.match(name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            _try(["ip", "netns", "del", name])


def helper_dir():
    """Where the delay helper is built: <build dir>/natlab."""
    return os.path.join(os.environ.get("RUPHIN_BUILD_DIR", os.path.join(ROOT, "build")), "natlab")


def build_delay_helper(out_dir=None):
    """Compiles nfq_delay.c when the binary is missing or older than it."""
    out_dir = out_dir or helper_dir()
    src, exe = os.path.join(HERE, "nfq_delay.c"), os.path.join(out_dir, "nfq_delay")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        os.makedirs(out_dir, exist_ok=True)
        tmp = f"{exe}.{os.getpid()}"  # then rename: concurrent runs never see half a file
        subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", src,
                        "-lnetfilter_queue", "-lnfnetlink", "-o", tmp], check=True)
        os.replace(tmp, exe)
    return exe


class Lab:
    """One topology: a holepuncher and a server and a client peer behind NATs
    of the given kinds (both SAME_NAT for one shared router).

        with Lab("symmetric", "restricted", delay_ms=20, loss=0.05) as lab:
            proc = lab.popen("server", ["build/ruphin", "server", ...])
    """

    def __init__(self, server_kind, client_kind, delay_ms=0, loss=0.0, helper_dir=None,
                 udp_timeout=None):
        for kind in (server_kind, client_kind):
            if kind not in ALL_KINDS and kind != SAME_NAT:
                raise ValueError(f"unknown NAT kind {kind!r}")
        if (server_kind == SAME_NAT) != (client_kind == SAME_NAT):
            raise ValueError(f"{SAME_NAT} puts both peers behind one router")
        self.prefix = f"rl{os.getpid()}-{next(_counter)}"
        self.kinds = {"server": server_kind, "client": client_kind}
        self.delay_ms, self.loss = delay_ms, loss
        self.udp_timeout = udp_timeout  # conntrack's UDP timeouts in the routers, seconds
        self.helper_dir = helper_dir
        self.namespaces, self.procs, self.edges = [], [], []
        self.hosts = {}        # role -> namespace
        self.public_addr = {}  # role -> the address the internet sees it behind
        self.local_addr = {}   # role -> the host's own address
        self.routers = {}      # role -> namespaces of its routers, outermost first
        self.portmap = {}      # role -> its home router's Miniupnpd (mapping-capable kinds)
        self.tmpdir = None

    # -- plumbing --
    def sh(self, ns, command):
        """Runs a shell command in a namespace; raises with its stderr if it fails."""
        result = _try(_ns_exec(ns, ["sh", "-c", command]))
        if result.returncode != 0:
            raise RuntimeError(f"{ns}: `{command}` failed: {result.stderr.strip()}")
        return result.stdout

    def ns(self, name):
        full = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "add", full], check=True, capture_output=True)
        self.namespaces.append(full)
        self.sh(full, "ip link set lo up")
        return full

    def link(self, ns_a, name_a, ns_b, name_b):
        """A veth pair, created right inside the two namespaces."""
        subprocess.run(["ip", "link", "add", name_a, "netns", ns_a, "type", "veth", "peer",
                        "name", name_b, "netns", ns_b], check=True, capture_output=True)
        self.sh(ns_a, f"ip link set {name_a} up")
        self.sh(ns_b, f"ip link set {name_b} up")

    def plug(self, ns, name, switch_ns, bridge, addr):
        """A host interface `name` with addr, cabled to a bridge in switch_ns."""
        port = f"{name[:4]}{len(self.namespaces)}"
        self.link(ns, name, switch_ns, port)
        self.sh(switch_ns, f"ip link set {port} master {bridge}")
        self.sh(ns, f"ip addr add {addr} dev {name}")

    def switch(self, ns, bridge, addr=None):
        self.sh(ns, f"ip link add {bridge} type bridge && ip link set {bridge} up")
        if addr:
            self.sh(ns, f"ip addr add {addr} dev {bridge}")

    # -- building blocks --
    def internet(self):
        """The core router, and the holepuncher attached to it."""
        self.inet = self.ns("inet")
        self.sh(self.inet, "sysctl -qw net.ipv4.ip_forward=1")
        hp = self.ns("hp")
        self.attach(hp, "inet", HP_ADDR)
        self.hosts["holepuncher"] = hp
        self.local_addr["holepuncher"] = self.public_addr["holepuncher"] = HP_ADDR

    def attach(self, ns, iface, public):
        """Connects ns (its interface iface, address public) to the core
        through an ISP router of its own, so that packets between two sites
        cross three routers, as a low TTL would find on the internet. Point-
        to-point links (`peer`) need no transit subnets: the ISP is
        198.51.100.<public's last byte>, the core 198.51.100.254."""
        last = public.rsplit(".", 1)[1]
        isp, link = self.ns(f"isp{last}"), f"198.51.100.{last}"
        self.link(ns, iface, isp, "cust")
        self.sh(ns, f"ip addr add {public} peer {link} dev {iface} && "
                    f"ip route add default via {link}")
        self.link(isp, "uplink", self.inet, f"to{last}")
        self.sh(isp, f"sysctl -qw net.ipv4.ip_forward=1 && "
                     f"ip addr add {link} peer {public} dev cust && "
                     f"ip addr add {link} peer {CORE} dev uplink && ip route add default via {CORE}")
        self.sh(self.inet, f"ip addr add {CORE} peer {link} dev to{last} && "
                           f"ip route add {public} via {link}")
        self.edges.append((ns, iface))

    def router(self, name, kind, wan_addr, lan, host=None, carrier=None, nft=False):
        """A NAT router with a LAN bridge lan.1/24 for the hosts behind it
        (host: the one a full cone forwards to). Its WAN is on the internet,
        or on a carrier NAT's LAN: carrier = (carrier router, its LAN prefix).
        nft: NAT and firewall in nftables, laid out for miniupnpd."""
        r = self.ns(name)
        if carrier:
            self.plug(r, "wan", carrier[0], "lan", f"{wan_addr}/24")
            self.sh(r, f"ip route add default via {carrier[1]}.1")
        else:
            self.attach(r, "wan", wan_addr)
        self.switch(r, "lan", f"{lan}.1/24")
        self.sh(r, "sysctl -qw net.ipv4.ip_forward=1")
        if self.udp_timeout:
            self.sh(r, f"sysctl -qw net.netfilter.nf_conntrack_udp_timeout={self.udp_timeout} "
                       f"net.netfilter.nf_conntrack_udp_timeout_stream={self.udp_timeout}")
        if nft:
            nft_rules(self, r, kind)
        else:
            nat_rules(self, r, kind, wan_addr, host)
        return r

    def host(self, role, router_ns):
        """A host on a router's LAN, with that router as its gateway."""
        h = self.ns(role)
        self.plug(h, "lan", router_ns, "lan", f"{LAN_HOST[role]}/24")
        self.sh(h, f"ip route add default via {LAN_GW}")
        self.hosts[role], self.local_addr[role] = h, LAN_HOST[role]
        return h

    def peer(self, role, kind):
        """The path from the internet to the peer of one role."""
        public = f"203.0.113.1{INDEX[role]}"
        self.public_addr[role] = public
        if kind == "public":
            h = self.ns(role)
            self.attach(h, "inet", public)
            self.hosts[role], self.local_addr[role] = h, public
            return
        if kind in PORTMAP:
            self.portmap_peer(role, kind)
            return
        if kind == "double":
            carrier = f"100.64.{INDEX[role]}"
            cgn = self.router(f"cgn{INDEX[role]}", "restricted", public, carrier)
            home = self.router(f"home{INDEX[role]}", "restricted", f"{carrier}.2", "198.18.0",
                               carrier=(cgn, carrier))
            self.routers[role] = [cgn, home]
        else:
            self.routers[role] = [self.router(f"r{INDEX[role]}", kind, public, "198.18.0",
                                              LAN_HOST[role])]
        self.host(role, self.routers[role][-1])

    def portmap_peer(self, role, kind):
        """A home router running miniupnpd, with the peer's host on its LAN:
        on the internet at PORTMAP_NET.1<index>, or (double-upnp) behind a
        symmetric carrier NAT whose public address is the usual one."""
        nat, upnp, natpmp, behind_cgn = PORTMAP[kind]
        if behind_cgn:
            carrier = f"100.64.{INDEX[role]}"
            cgn = self.router(f"cgn{INDEX[role]}", "symmetric", self.public_addr[role], carrier)
            wan = f"{carrier}.2"
            home = self.router(f"home{INDEX[role]}", nat, wan, "198.18.0",
                               carrier=(cgn, carrier), nft=True)
            self.routers[role] = [cgn, home]
        else:
            wan = self.public_addr[role] = f"{PORTMAP_NET}.1{INDEX[role]}"
            home = self.router(f"r{INDEX[role]}", nat, wan, "198.18.0", nft=True)
            self.routers[role] = [home]
        self.host(role, home)
        self.portmap[role] = Miniupnpd(self, home, wan, upnp=upnp, natpmp=natpmp)

    def same_nat(self):
        """Both peers on the LAN of one port-restricted router."""
        r = self.router("r1", "restricted", "203.0.113.11", "198.18.0")
        for role in ("server", "client"):
            self.host(role, r)
            self.routers[role] = [r]
            self.public_addr[role] = "203.0.113.11"

    def conditions(self):
        """Loss, then delay, where packets enter from the internet."""
        for queue, (ns, iface) in enumerate(self.edges, start=1):
            if self.loss > 0:
                self.sh(ns, f"iptables -t raw -A PREROUTING -i {iface} -m statistic "
                            f"--mode random --probability {self.loss} -j DROP")
            if self.delay_ms > 0:
                self.start_delay(ns, iface, queue)

    def start_delay(self, ns, iface, queue):
        helper = build_delay_helper(self.helper_dir)
        proc = self.popen_ns(ns, [helper, str(queue), str(self.delay_ms)],
                             stdout=subprocess.PIPE, text=True)
        if proc.stdout.readline().strip() != "READY":
            raise RuntimeError(f"{ns}: the delay helper did not start")
        # Only once the helper listens: a queue without a reader drops everything.
        self.sh(ns, f"iptables -t raw -A PREROUTING -i {iface} -j NFQUEUE --queue-num {queue}")

    # -- lifetime --
    def __enter__(self):
        atexit.register(self.close)
        try:
            self.internet()
            if self.kinds["server"] == SAME_NAT:
                self.same_nat()
            else:
                self.peer("server", self.kinds["server"])
                self.peer("client", self.kinds["client"])
            self.conditions()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Ends every process started in the lab, then removes its namespaces."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for stream in (p.stdout, p.stderr):
                if stream:
                    stream.close()
        self.procs = []
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        for ns in reversed(self.namespaces):
            _try(["ip", "netns", "del", ns])
        self.namespaces = []
        atexit.unregister(self.close)

    # -- running things --
    def popen_ns(self, ns, argv, **kw):
        """Starts argv in a namespace; it is killed if this process dies."""
        p = subprocess.Popen(_ns_exec(ns, ["setpriv", "--pdeathsig", "KILL", "--", *argv]), **kw)
        self.procs.append(p)
        return p

    def popen(self, role, argv, **kw):
        return self.popen_ns(self.hosts[role], argv, **kw)

    def run(self, role, argv, timeout=60):
        """Runs argv on a host to its end: CompletedProcess with text output."""
        return subprocess.run(_ns_exec(self.hosts[role], argv), capture_output=True, text=True,
                              timeout=timeout)

    def python(self, role, code, *args, **kw):
        """Starts a Python snippet (argv: args) on a host."""
        return self.popen(role, [sys.executable, "-c", code, *map(str, args)], **kw)

    def probe(self, role, port, *steps):
        """Starts udp_probe.py on a host (see there for the steps); returns
        once its socket is bound."""
        return Probe(self.python(role, open(PROBE).read(), port, *steps, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True))

    def temp_dir(self):
        """A directory of this lab's, removed by close()."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix=f"{self.prefix}-")
        return self.tmpdir

    def conntrack(self, role, which=-1):
        """The UDP conntrack table of one of a peer's routers (`conntrack -L`)."""
        return self.sh(self.routers[role][which], "conntrack -L -p udp 2>/dev/null")


class Probe:
    """A running udp_probe.py; finish() waits for it and parses its output
    into datagrams [(text, src_ip, src_port)], rtts [ms], marks {name:
    seconds} and received."""

    def __init__(self, proc):
        self.proc = proc
        first = proc.stdout.readline().split()
        if first[:1] != ["bound"]:
            raise RuntimeError(f"udp_probe did not start: {proc.stderr.read()}")
        self.port = int(first[1])

    def finish(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"udp_probe failed: {err}")
        self.datagrams, self.rtts, self.marks = [], [], {}
        for words in (line.split() for line in out.splitlines()):
            if words[0] == "mark":
                self.marks[words[1]] = float(words[2])
            elif words[0] == "rtt":
                self.rtts.append(float(words[1]))
            elif words[0] == "received":
                self.received = int(words[1])
            else:
                self.datagrams.append((words[0], words[1], int(words[2])))
        return self

    def texts(self):
        return [text for text, _, _ in self.datagrams]


def nat_rules(lab, r, kind, wan_addr, host):
    """iptables rules making router namespace r a NAT of the given kind."""
    if kind == "fullcone":
        # Endpoint-independent mapping (SNAT keeps the port) and filtering:
        # whatever arrives on the WAN goes to the one host on the LAN.
        lab.sh(r, f"iptables -t nat -A POSTROUTING -o wan -j SNAT --to-source {wan_addr} && "
                  f"iptables -t nat -A PREROUTING -i wan -p udp -j DNAT --to-destination {host}")
        return
    random = " --random-fully" if kind == "symmetric" else ""
    lab.sh(r, f"iptables -t nat -A POSTROUTING -o wan -j MASQUERADE{random}")
    # Only answers to what went out get in, to the LAN ...
    lab.sh(r, "iptables -A FORWARD -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT "
              "&& iptables -A FORWARD -i wan -j DROP")
    # ... and to the router itself, except on the clash kind, which takes in
    # unsolicited packets (conntrack then records them as inbound flows).
    if kind != "restricted-open":
        lab.sh(r, "iptables -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED "
                  "-j ACCEPT && iptables -A INPUT -i wan -j DROP")


def nft_rules(lab, r, kind):
    """Router namespace r as a NAT of the given kind ("restricted" or
    "symmetric") in nftables, in the tables and chains that miniupnpd's
    nft_init.sh makes (its chains empty, jumped to first): the firewall lets
    in from the WAN answers and whatever miniupnpd opens, and the router
    itself takes in answers only."""
    random = " fully-random" if kind == "symmetric" else ""
    lab.sh(r, f"""nft -f - <<'EOF'
table inet filter {{
    chain forward {{
        type filter hook forward priority 0; policy drop;
        jump miniupnpd
        ct state established,related accept
        iifname "lan" oifname "wan" accept
    }}
    chain miniupnpd {{
    }}
    chain input {{
        type filter hook input priority 0; policy accept;
        iifname "wan" ct state established,related accept
        iifname "wan" drop
    }}
}}
table inet nat {{
    chain prerouting {{
        type nat hook prerouting priority -100; policy accept;
        jump prerouting_miniupnpd
    }}
    chain postrouting {{
        type nat hook postrouting priority 100; policy accept;
        jump postrouting_miniupnpd
        oifname "wan" masquerade{random}
    }}
    chain prerouting_miniupnpd {{
    }}
    chain postrouting_miniupnpd {{
    }}
}}
EOF""")


class Miniupnpd:
    """miniupnpd on a router's LAN interface, in the foreground (the lab
    kills it), its config, lease and pid files and its log in a directory
    of the lab's. upnp: UPnP IGD (SSDP and HTTP on a random port); natpmp:
    NAT-PMP and PCP on port 5351. Secure mode and no PCP third party, with
    the permissions of a home router's configuration: LAN hosts may map
    ports 1024-65535, to their own address only. Lifetimes are miniupnpd's
    defaults (NAT-PMP and PCP: 120 s to 24 h; UPnP: as asked)."""

    def __init__(self, lab, ns, wan_addr, upnp=True, natpmp=True, lan_net="198.18.0.0/24"):
        self.ns, self.wan_addr, self.gateway = ns, wan_addr, LAN_GW
        self.dir = tempfile.mkdtemp(prefix="miniupnpd-", dir=lab.temp_dir())
        self.conf, self.log = (os.path.join(self.dir, name) for name in ("miniupnpd.conf", "log"))
        self.leases, self.pid = (os.path.join(self.dir, name) for name in ("leases", "pid"))
        yes = {True: "yes", False: "no"}
        with open(self.conf, "w") as f:
            f.write(f"""ext_ifname=wan
listening_ip=lan
ipv6_disable=yes
http_port=0
enable_upnp={yes[upnp]}
enable_natpmp={yes[natpmp]}
secure_mode=yes
pcp_allow_thirdparty=no
system_uptime=yes
notify_interval=60
lease_file={self.leases}
upnp_table_name=filter
upnp_nat_table_name=nat
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid={uuid.uuid5(uuid.NAMESPACE_URL, ns)}
allow 1024-65535 {lan_net} 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
""")
        with open(self.log, "w") as log:
            # -d: in the foreground, logging (with debug lines) to stderr.
            self.proc = lab.popen_ns(ns, [_which("miniupnpd"), "-d", "-f", self.conf,
                                          "-P", self.pid], stdout=log, stderr=subprocess.STDOUT)
        # Ready once it listens for each protocol that is on.
        ready = ["HTTP listening on port"] * upnp + ["Listening for NAT-PMP/PCP"] * natpmp
        end = time.monotonic() + 10
        while not all(line in self.read_log() for line in ready):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"{ns}: miniupnpd did not start: {self.read_log()}")
            time.sleep(0.01)

    def read_log(self):
        with open(self.log) as f:
            return f.read()
