"""Self-tests of the lab's mapping-capable routers (lab.PORTMAP_KINDS), without
ruphin: Debian's miniupnpd on the home router, asked by the LAN host with
libnatpmp's natpmpc, miniupnpc's upnpc and hand-built PCP requests (RFC
6887), and plain UDP (udp_probe.py) from the internet to see what a mapping
lets in. docs/NAT.md, "Routers that map ports"."""
import os
import re
import socket
import struct
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as natlab  # noqa: E402
import matrix  # noqa: E402
from lab import LAN_GW, Lab  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.natlab]
WHY = natlab.available()
if WHY:
    pytestmark.append(pytest.mark.skip(reason=WHY))

HOST = natlab.LAN_HOST["server"]        # the LAN host asking for mappings
OUTSIDE = "203.0.113.12"                # a host on the internet (the public client)
UPNP_WAN = f"{natlab.PORTMAP_NET}.11"   # the server's router's public address
VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pcp_vectors.txt")

# PCP (RFC 6887) result codes seen here.
SUCCESS, UNSUPP_OPTION, NO_RESOURCES, ADDRESS_MISMATCH = 0, 5, 8, 12
# NAT-PMP (RFC 6886) result code.
NATPMP_NETWORK_FAILURE = 3


@pytest.fixture(scope="module", autouse=True)
def clean_slate(tool_missing):
    why = natlab.portmap_available()
    if why:
        tool_missing(why)
    natlab.sweep_stale()


def v4mapped(ip):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)


def pcp_map(client_ip, nonce, internal_port, suggested_port, lifetime, options=b""):
    """A PCP MAP request for UDP: the 24-byte common header and the 36-byte
    MAP opcode (no suggested external address: ::ffff:0.0.0.0), 60 bytes."""
    header = struct.pack("!BBHI16s", 2, 1, 0, lifetime, v4mapped(client_ip))
    body = nonce + struct.pack("!B3xHH16s", socket.IPPROTO_UDP, internal_port, suggested_port,
                               v4mapped("0.0.0.0"))
    return header + body + options


def pcp_answer(data):
    """The fields of a PCP MAP answer."""
    version, opcode, result, lifetime, epoch = struct.unpack("!BBxBII", data[:12])
    nonce, proto, internal, external, ext_ip = struct.unpack("!12sB3xHH16s", data[24:60])
    return {"version": version, "opcode": opcode, "result": result, "lifetime": lifetime,
            "epoch": epoch, "nonce": nonce, "protocol": proto, "internal_port": internal,
            "external_port": external, "external_ip": socket.inet_ntoa(ext_ip[12:]),
            "options": data[60:]}


EXCHANGE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[3]))
s.connect((sys.argv[1], int(sys.argv[2])))
for request in sys.argv[4:]:
    s.send(bytes.fromhex(request))
    try:
        print(s.recv(1100).hex())
    except socket.timeout:
        print("timeout")
    except ConnectionRefusedError:
        print("refused")
"""


def exchange(lab, role, port, *requests, timeout=1.0):
    """Sends each request (bytes) from the host to its gateway's UDP port,
    one at a time: its answer (bytes), or "timeout" or "refused" (ICMP)."""
    out = lab.run(role, [sys.executable, "-c", EXCHANGE, LAN_GW, str(port), str(timeout),
                         *(r.hex() for r in requests)]).stdout.split()
    return [line if line in ("timeout", "refused") else bytes.fromhex(line) for line in out]


SSDP = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.sendto(b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n"
         b"MX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n",
         ("239.255.255.250", 1900))
try:
    while True:
        print(s.recvfrom(2048)[0].decode().replace("\r\n", " | "))
except socket.timeout:
    pass
"""


def ssdp_search(lab, role):
    """The answers to one SSDP M-SEARCH for an IGD (what upnpc's discovery
    sends), in a second rather than upnpc's 8 s of retries."""
    return lab.run(role, [sys.executable, "-c", SSDP]).stdout.splitlines()


def natpmpc(lab, *args):
    return lab.run("server", ["natpmpc", *map(str, args), "-g", LAN_GW], timeout=30)


def upnpc(lab, *args):
    return lab.run("server", ["upnpc", "-m", "lan", *map(str, args)], timeout=30)


def arrives(lab, port, ip, ext_port, src_port, role="server"):
    """Whether a datagram from the internet (OUTSIDE:src_port) to
    ip:ext_port reaches the host's port: the texts it received."""
    inside = lab.probe(role, port, "recv:0.8")
    lab.probe("client", src_port, f"send:{ip}:{ext_port}:hello{src_port}").finish()
    return inside.finish().texts()


def rules(lab, role="server"):
    """miniupnpd's DNAT chain in the home router."""
    return lab.sh(lab.routers[role][-1], "nft list chain inet nat prerouting_miniupnpd")


def second_lan_host(lab, addr="198.18.0.4"):
    """Another host on the server's LAN, role "lan2"."""
    h = lab.ns("lan2")
    lab.plug(h, "lan", lab.routers["server"][-1], "lan", f"{addr}/24")
    lab.sh(h, f"ip route add default via {LAN_GW}")
    lab.hosts["lan2"], lab.local_addr["lan2"] = h, addr


def test_upnp_maps_a_port_that_the_internet_reaches_until_it_is_deleted():
    with Lab("symmetric-upnp", "public") as lab:
        # A symmetric NAT: nothing gets in unasked.
        assert arrives(lab, 4000, UPNP_WAN, 4100, 5001) == []
        added = upnpc(lab, "-a", HOST, 4000, 4100, "UDP")
        assert added.returncode == 0, added.stdout + added.stderr
        assert "ExternalIPAddress = 203.0.114.11" in added.stdout
        assert (f"external {UPNP_WAN}:4100 UDP is redirected to internal {HOST}:4000"
                in added.stdout)
        assert f"dnat ip to {HOST}:4000" in rules(lab)
        assert arrives(lab, 4000, UPNP_WAN, 4100, 5002) == ["hello5002"]
        deleted = upnpc(lab, "-d", 4100, "UDP")
        assert "UPNP_DeletePortMapping() returned : 0" in deleted.stdout
        assert "dnat" not in rules(lab)
        assert arrives(lab, 4000, UPNP_WAN, 4100, 5003) == []


def test_natpmp_maps_a_port_that_the_internet_reaches_until_it_is_deleted():
    """natpmpc -a takes the public port first, then the private one."""
    with Lab("symmetric-natpmp", "public") as lab:
        assert arrives(lab, 4000, UPNP_WAN, 4100, 5001) == []
        added = natpmpc(lab, "-a", 4100, 4000, "udp", 3600)
        assert added.returncode == 0, added.stdout + added.stderr
        assert f"Public IP address : {UPNP_WAN}" in added.stdout
        assert "Mapped public port 4100 protocol UDP to local port 4000 liftime 3600" in added.stdout
        assert arrives(lab, 4000, UPNP_WAN, 4100, 5002) == ["hello5002"]
        deleted = natpmpc(lab, "-a", 4100, 4000, "udp", 0)
        assert "Mapped public port 0 protocol UDP to local port 4000 liftime 0" in deleted.stdout
        assert "dnat" not in rules(lab)
        assert arrives(lab, 4000, UPNP_WAN, 4100, 5003) == []


def test_pcp_maps_a_port_on_the_natpmp_router():
    """A 60-byte PCP MAP request gets a success answer naming the router's
    public address, and the mapping lets the internet in; lifetime 0
    deletes it."""
    with Lab("symmetric-natpmp", "public") as lab:
        nonce = bytes(range(1, 13))
        request = pcp_map(HOST, nonce, 4000, 4200, 3600)
        assert len(request) == 60
        answer, = exchange(lab, "server", natlab.NATPMP_PORT, request)
        fields = pcp_answer(answer)
        assert (fields["version"], fields["opcode"], fields["result"]) == (2, 0x81, SUCCESS)
        assert fields["nonce"] == nonce and fields["protocol"] == socket.IPPROTO_UDP
        assert (fields["external_ip"], fields["external_port"]) == (UPNP_WAN, 4200)
        assert fields["internal_port"] == 4000 and fields["lifetime"] == 3600
        assert arrives(lab, 4000, UPNP_WAN, 4200, 5001) == ["hello5001"]
        gone, = exchange(lab, "server", natlab.NATPMP_PORT, pcp_map(HOST, nonce, 4000, 4200, 0))
        assert pcp_answer(gone)["result"] == SUCCESS
        assert "dnat" not in rules(lab)
        assert arrives(lab, 4000, UPNP_WAN, 4200, 5002) == []


def test_a_mapping_is_inbound_only_and_clashes_with_the_hosts_own_flow():
    """What a core mapping ports will meet on this Linux router: miniupnpd
    adds a DNAT rule and no SNAT, so the host's own packets from the mapped
    port still leave from a random port of the symmetric NAT; and when the
    peer then comes in through the mapping, its flow clashes in conntrack
    with the host's flow to it, and Linux rewrites the peer's source port:
    the host sees the peer at another port, and its answers there reach the
    peer from the mapped port."""
    with Lab("symmetric-natpmp", "public") as lab:
        assert natpmpc(lab, "-a", 4100, 4000, "udp", 3600).returncode == 0
        outside = lab.probe("client", 5000, "await:1.5", f"send:{UPNP_WAN}:4100:in", "recv:1.0")
        inside = lab.probe("server", 4000, f"send:{OUTSIDE}:5000:out", "echo:2.5")
        (_, ip, port), answer = outside.finish().datagrams
        # A port the host never talked to keeps its port.
        lab.probe("client", 5001, f"send:{UPNP_WAN}:4100:fresh").finish()
        assert ip == UPNP_WAN and port != 4100
        (text, src_ip, src_port), fresh = inside.finish().datagrams
        assert (text, src_ip) == ("in", OUTSIDE) and src_port != 5000
        assert answer == ("in", UPNP_WAN, 4100)
        assert fresh == ("fresh", OUTSIDE, 5001)


def read_vectors():
    """pcp_vectors.txt: {name: {"request": bytes, "response": bytes, "kind": kind}}."""
    vectors = {}
    with open(VECTORS) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, kind, what, data = line.split()
                vectors.setdefault(name, {"kind": kind})[what] = bytes.fromhex(data)
    return vectors


@pytest.mark.parametrize("name", sorted(read_vectors()))
def test_the_saved_pcp_exchanges_are_what_miniupnpd_answers(name):
    """The saved request/answer pairs (the core's PCP client's reference and
    fuzz seeds) are still what the lab's miniupnpd answers, apart from the
    epoch (seconds since it started)."""
    vector = read_vectors()[name]
    with Lab(vector["kind"], "public") as lab:
        answer, = exchange(lab, "server", natlab.NATPMP_PORT, vector["request"])
    saved = vector["response"]
    assert answer[:8] + answer[12:] == saved[:8] + saved[12:]


def test_each_router_answers_only_the_protocols_that_are_on():
    with Lab("symmetric-upnp", "symmetric-natpmp") as lab:
        # UPnP only: port 5351 is closed, NAT-PMP and PCP get an ICMP error.
        refused = natpmpc(lab)
        assert refused.returncode != 0
        assert "the gateway does not support nat-pmp" in refused.stdout + refused.stderr
        assert exchange(lab, "server", natlab.NATPMP_PORT,
                        pcp_map(HOST, bytes(12), 4000, 4000, 60)) == ["refused"]
        assert any("LOCATION: http://198.18.0.1:" in a for a in ssdp_search(lab, "server"))
        # NAT-PMP and PCP only: no SSDP answer, no UPnP listener.
        assert ssdp_search(lab, "client") == []
        sockets = lab.sh(lab.routers["client"][-1], "ss -lntup")
        assert ":1900" not in sockets and "LISTEN" not in sockets
        public = lab.run("client", ["natpmpc", "-g", LAN_GW])
        assert f"Public IP address : {natlab.PORTMAP_NET}.12" in public.stdout


def test_secure_mode_a_host_maps_only_its_own_address():
    """As on a real router (secure_mode=yes, pcp_allow_thirdparty=no): UPnP
    refuses a mapping to another LAN host (718 ConflictInMappingEntry), PCP
    refuses one for another address (ADDRESS_MISMATCH) and a THIRD_PARTY
    option (UNSUPP_OPTION); NAT-PMP has no field for another host."""
    with Lab("symmetric-upnp", "symmetric-natpmp") as lab:
        second_lan_host(lab)
        refused = upnpc(lab, "-a", "198.18.0.4", 4000, 4100, "UDP")
        assert refused.returncode != 0
        assert "failed with code 718 (ConflictInMappingEntry)" in refused.stdout
        assert "dnat" not in rules(lab)
        assert arrives(lab, 4000, UPNP_WAN, 4100, 5001, role="lan2") == []
        third_party = struct.pack("!BBH16s", 1, 0, 16, v4mapped("198.18.0.4"))
        answers = exchange(lab, "client", natlab.NATPMP_PORT,
                           pcp_map("198.18.0.4", bytes(12), 4000, 4100, 60),
                           pcp_map(natlab.LAN_HOST["client"], bytes(12), 4000, 4100, 60,
                                   third_party))
        assert [pcp_answer(a)["result"] for a in answers] == [ADDRESS_MISMATCH, UNSUPP_OPTION]
        assert "dnat" not in rules(lab, "client")


def test_double_upnp_miniupnpd_behind_the_carrier_nat_maps_nothing():
    """The home router's WAN is in the carrier NAT's 100.64.0.0/10:
    miniupnpd 2.3.1 sees a reserved address and refuses every mapping (the
    carrier NAT, symmetric, would not forward to it anyway): NAT-PMP says
    Network Failure, UPnP reports no external address and fails
    AddPortMapping (upnpc's discovery calls the IGD not connected), PCP says
    NO_RESOURCES but names the useless external address, its own WAN."""
    with Lab("double-upnp", "public") as lab:
        home_wan = "100.64.1.2"
        assert (f"Reserved / private IP address {home_wan} on ext interface wan: "
                "Port forwarding is impossible") in lab.portmap["server"].read_log()
        public, mapping = exchange(lab, "server", natlab.NATPMP_PORT, struct.pack("!BB", 0, 0),
                                   struct.pack("!BBHHHI", 0, 1, 0, 4000, 4100, 3600))
        assert struct.unpack("!BBH", public[:4]) == (0, 128, NATPMP_NETWORK_FAILURE)
        assert struct.unpack("!BBH", mapping[:4]) == (0, 129, NATPMP_NETWORK_FAILURE)
        assert natpmpc(lab, "-a", 4100, 4000, "udp", 3600).returncode != 0
        answer, = exchange(lab, "server", natlab.NATPMP_PORT,
                           pcp_map(HOST, bytes(12), 4000, 4100, 3600))
        fields = pcp_answer(answer)
        assert fields["result"] == NO_RESOURCES
        assert (fields["external_ip"], fields["external_port"]) == (home_wan, 4100)
        discovered = upnpc(lab, "-a", HOST, 4000, 4100, "UDP")
        assert discovered.returncode != 0
        assert "Found a (not connected?) IGD" in discovered.stdout
        url = re.search(r"desc: (\S+)", discovered.stdout).group(1)
        forced = lab.run("server", ["upnpc", "-u", url, "-a", HOST, "4000", "4100", "UDP"])
        assert "ExternalIPAddress = \n" in forced.stdout
        assert "failed with code 501 (Action Failed)" in forced.stdout
        assert "dnat" not in rules(lab)
        # Nothing reaches the host: not through the carrier's public address,
        # and the home router's WAN has no route from the internet.
        assert arrives(lab, 4000, lab.public_addr["server"], 4100, 5001) == []
        assert arrives(lab, 4000, home_wan, 4100, 5002) == []


def test_the_lab_leaves_no_daemon_no_files_no_namespaces():
    with Lab("double-upnp", "symmetric-natpmp") as lab:
        daemons = [m.proc for m in lab.portmap.values()]
        files = lab.tmpdir
        prefix = lab.prefix
        assert all(p.poll() is None for p in daemons) and os.path.isdir(files)
        pids = [p.pid for p in daemons]
    assert all(p.poll() is not None for p in daemons)
    assert not os.path.exists(files)
    assert f"{prefix}-" not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                              text=True).stdout
    alive = subprocess.run(["pgrep", "-x", "miniupnpd"], capture_output=True, text=True).stdout
    assert not set(alive.split()) & {str(p) for p in pids}


def test_the_matrix_takes_the_new_kinds():
    pairs = matrix.parse_pairs("portmap")
    assert sorted({s for s, _ in pairs}) == sorted(natlab.PORTMAP_KINDS)
    assert matrix.parse_pairs("symmetric-upnp:restricted") == [("symmetric-upnp", "restricted")]
    assert all(matrix.symmetric_in(p) for p in pairs)
    with pytest.raises(SystemExit):
        matrix.parse_args(["--pairs", "no-such-kind:public", "--ruphin", "/bin/true"])
