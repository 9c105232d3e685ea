"""The NAT lab: real Linux NATs (iptables) in network namespaces.

One namespace per host: the "internet" is a bridge (203.0.113.0/24) with the
holepuncher on it; each peer sits behind its own router namespace doing NAT
for a LAN (198.18.0.0/15), or a chain of two for a carrier NAT (100.64.0.0/10).
Delay is added where packets enter from the internet, in the raw table's
PREROUTING (before conntrack sees them), by an NFQUEUE helper; loss by
`-m statistic`. Namespaces carry a per-run prefix and are always removed.

Kinds of NAT (docs/NAT.md):
  public          no NAT: the peer is on the internet segment
  fullcone        endpoint-independent mapping and filtering (SNAT + DNAT all inbound)
  restricted      port-restricted cone (masquerade), router drops unsolicited inbound
  restricted-open port-restricted, the router accepts unsolicited inbound to itself
                  (the conntrack clash)
  symmetric       a new random public port per destination (masquerade --random-fully)
  double          a home router (restricted) behind a carrier NAT (restricted)
  samenat         both peers behind one restricted router (a pair of its own)
"""
import atexit
import itertools
import os
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ["public", "fullcone", "restricted", "restricted-open", "symmetric", "double"]
HP_ADDR = "203.0.113.1"
_counter = itertools.count()


def available():
    """None when the lab can run here, else why not."""
    if os.geteuid() != 0:
        return "the NAT lab needs root (network namespaces, iptables)"
    for tool in ("ip", "iptables", "cc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/test.sh installs it)"
    if not os.path.exists("/usr/include/libnetfilter_queue/libnetfilter_queue.h"):
        return "libnetfilter-queue-dev is not installed (scripts/test.sh installs it)"
    probe = f"rlprobe{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "network namespaces are not available here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sweep_stale():
    """Removes namespaces left by lab runs whose process is gone."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith("rl") and "-" in name:
            pid = name[2:].split("-")[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)


def build_delay_helper(out_dir):
    exe = os.path.join(out_dir, "nfq_delay")
    if not os.path.exists(exe):
        subprocess.run(["cc", "-O2", os.path.join(HERE, "nfq_delay.c"), "-lnetfilter_queue",
                        "-o", exe], check=True)
    return exe


class Lab:
    """One topology: a holepuncher and two peers behind NATs of given kinds.

        with Lab("symmetric", "restricted", delay_ms=20, loss=0.05) as lab:
            lab.run("server", [...])
    """

    def __init__(self, server_kind, client_kind, delay_ms=0, loss=0.0, helper_dir="/tmp"):
        self.prefix = f"rl{os.getpid()}-{next(_counter)}"
        self.kinds = {"server": server_kind, "client": client_kind}
        self.delay_ms, self.loss = delay_ms, loss
        self.helper_dir = helper_dir
        self.namespaces, self.procs = [], []
        self.hosts = {}  # role -> namespace of the host
        self.edges = []  # (namespace, interface) where packets arrive from the internet
        self._link = itertools.count()

    # -- plumbing --
    def ns(self, name):
        full = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "add", full], check=True)
        self.namespaces.append(full)
        self.sh(full, "ip link set lo up")
        return full

    def sh(self, ns, command):
        subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", command], check=True,
                       capture_output=True)

    def link(self, ns_a, addr_a, ns_b, addr_b=None, bridge=False):
        """A veth between two namespaces; ns_b's end joins br0 when bridge."""
        n = next(self._link)
        a, b = f"v{n}a{os.getpid() % 1000}", f"v{n}b{os.getpid() % 1000}"
        subprocess.run(["ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b,
                        "netns", ns_b], check=True)
        self.sh(ns_a, f"ip addr add {addr_a} dev {a} && ip link set {a} up")
        if bridge:
            self.sh(ns_b, f"ip link set {b} master br0 && ip link set {b} up")
        else:
            self.sh(ns_b, f"ip addr add {addr_b} dev {b} && ip link set {b} up")
        return a, b

    # -- building blocks --
    def internet(self):
        self.inet = self.ns("inet")
        self.sh(self.inet, "ip link add br0 type bridge && ip link set br0 up")
        hp = self.ns("hp")
        _, _ = self.link(hp, f"{HP_ADDR}/24", self.inet, bridge=True)
        self.hosts["holepuncher"] = hp
        self.edges.append((hp, None))

    def router(self, name, wan_ns, wan_addr, wan_gw, lan_net, kind, bridge):
        """A NAT router: WAN in wan_ns (on the bridge or a carrier LAN), a LAN
        lan_net.1/24. Returns (router ns, its LAN interface)."""
        r = self.ns(name)
        wan, _ = self.link(r, f"{wan_addr}/24", wan_ns, f"{wan_gw}/24" if not bridge else None,
                           bridge=bridge)
        self.sh(r, "sysctl -qw net.ipv4.ip_forward=1")
        if wan_gw and not bridge:
            self.sh(r, f"ip route add default via {wan_gw}")
        self.nat_rules(r, wan, wan_addr, f"{lan_net}.2", kind)
        self.edges.append((r, wan))
        return r

    def nat_rules(self, r, wan, wan_addr, host_addr, kind):
        ipt = "iptables"
        if kind == "fullcone":
            self.sh(r, f"{ipt} -t nat -A POSTROUTING -o {wan} -j SNAT --to-source {wan_addr}")
            self.sh(r, f"{ipt} -t nat -A PREROUTING -i {wan} -p udp -j DNAT "
                       f"--to-destination {host_addr}")
            return
        random = " --random-fully" if kind == "symmetric" else ""
        self.sh(r, f"{ipt} -t nat -A POSTROUTING -o {wan} -j MASQUERADE{random}")
        self.sh(r, f"{ipt} -A FORWARD -i {wan} -m conntrack --ctstate ESTABLISHED,RELATED "
                   f"-j ACCEPT && {ipt} -A FORWARD -i {wan} -j DROP")
        if kind != "restricted-open":  # the clash kind takes unsolicited packets itself
            self.sh(r, f"{ipt} -A INPUT -i {wan} -m conntrack --ctstate ESTABLISHED,RELATED "
                       f"-j ACCEPT && {ipt} -A INPUT -i {wan} -j DROP")

    def host(self, role, router_ns, lan_net):
        h = self.ns(role)
        self.link(h, f"{lan_net}.2/24", router_ns, f"{lan_net}.1/24")
        self.sh(h, f"ip route add default via {lan_net}.1")
        return h

    def peer(self, role, kind, index):
        """Builds the path from the internet to the peer of one role."""
        public = f"203.0.113.{10 + index}"
        lan = f"198.18.{index}"
        if kind == "public":
            h = self.ns(role)
            self.link(h, f"{public}/24", self.inet, bridge=True)
            self.edges.append((h, None))
            self.hosts[role] = h
            return
        if kind == "double":
            carrier = self.router(f"cgn{index}", self.inet, public, None, f"100.64.{index}",
                                  "restricted", bridge=True)
            home = self.router(f"home{index}", carrier, f"100.64.{index}.2",
                               f"100.64.{index}.1", lan, "restricted", bridge=False)
            self.hosts[role] = self.host(role, home, lan)
            return
        r = self.router(f"r{index}", self.inet, public, None, lan, kind, bridge=True)
        self.hosts[role] = self.host(role, r, lan)

    def same_nat(self):
        r = self.router("r1", self.inet, "203.0.113.11", None, "198.18.1", "restricted",
                        bridge=True)
        self.hosts["server"] = self.host("server", r, "198.18.1")
        client = self.ns("client")
        # The second host shares the router's LAN through a bridge on it.
        self.sh(r, "ip link add lanbr type bridge && ip link set lanbr up")
        lan_if = self._lan_interface(r)
        self.sh(r, f"ip addr flush dev {lan_if} && ip link set {lan_if} master lanbr && "
                   "ip addr add 198.18.1.1/24 dev lanbr")
        _, b = self.link(client, "198.18.1.3/24", r, bridge=False, addr_b="0.0.0.0/32")
        self.sh(r, f"ip addr flush dev {b} && ip link set {b} master lanbr")
        self.sh(client, "ip route add default via 198.18.1.1")
        self.hosts["client"] = client

    def _lan_interface(self, r):
        out = subprocess.run(["ip", "-n", r, "-o", "addr", "show"], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            if "198.18.1.1/24" in line:
                return line.split()[1]
        raise RuntimeError("router LAN interface not found")

    def conditions(self):
        """Delay and loss where packets arrive from the internet."""
        queue = itertools.count(1)
        for ns, iface in self.edges:
            match = f"-i {iface} " if iface else "! -i lo "
            if self.loss > 0:
                self.sh(ns, f"iptables -t raw -A PREROUTING {match}-m statistic --mode random "
                            f"--probability {self.loss} -j DROP")
            if self.delay_ms > 0:
                q = next(queue)
                self.sh(ns, f"iptables -t raw -A PREROUTING {match}-p udp -j NFQUEUE "
                            f"--queue-num {q}")
                helper = build_delay_helper(self.helper_dir)
                proc = subprocess.Popen(["ip", "netns", "exec", ns, helper, str(q),
                                         str(self.delay_ms)], stdout=subprocess.PIPE, text=True)
                assert proc.stdout.readline().strip() == "READY"
                self.procs.append(proc)

    # -- lifetime --
    def __enter__(self):
        atexit.register(self.close)
        try:
            self.internet()
            if self.kinds["server"] == "samenat":
                self.same_nat()
            else:
                self.peer("server", self.kinds["server"], 1)
                self.peer("client", self.kinds["client"], 2)
            self.conditions()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        self.procs = []
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []

    # -- running things --
    def popen(self, role, argv, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.hosts[role], *argv], **kw)
        self.procs.append(p)
        return p

    def run(self, role, argv, timeout=60):
        return subprocess.run(["ip", "netns", "exec", self.hosts[role], *argv],
                              capture_output=True, text=True, timeout=timeout)
