"""Which backend a host's data plane picks for a flow, read from the maps
that host's XDP program uses (through bpftool), with the flow hash of
bpf/lib/flow_hash.h written again in Python: an oracle independent of
xlbd, so a test can check that every host holds the same ring and that
every connection reached the backend that ring gives it.
"""
import ipaddress
import json
import socket
import struct
import subprocess

MASK = 0xFFFFFFFF
FAMILY_V6 = 6
HASH_NO_SRC_PORT = 1  # XLB_VIP_F_HASH_NO_SRC_PORT


def _mix(h, k):
    k = (k * 0xCC9E2D51) & MASK
    k = ((k << 15) | (k >> 17)) & MASK
    k = (k * 0x1B873593) & MASK
    h ^= k
    h = ((h << 13) | (h >> 19)) & MASK
    return (h * 5 + 0xE6546B64) & MASK


def _final(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    return h ^ (h >> 16)


def _words(address):
    """An address as the BPF program reads it: its wire bytes as
    little-endian 32-bit words (IPv4 in the first, the rest zero)."""
    packed = ipaddress.ip_address(address).packed.ljust(16, b"\0")
    return struct.unpack("<4I", packed)


def _port(port):
    """A port as the BPF program reads it: wire bytes as a native u16."""
    return struct.unpack("<H", struct.pack(">H", port))[0]


def flow_hash(src, sport, dst, dport, proto, seed, with_src_port=True):
    """xlb_flow_hash of bpf/lib/flow_hash.h."""
    s, d = _words(src), _words(dst)
    h = _mix(seed, s[0])
    h = _mix(h, d[0])
    if ipaddress.ip_address(dst).version == 6:
        for w in (s[1], s[2], s[3], d[1], d[2], d[3]):
            h = _mix(h, w)
    ports = ((_port(sport) if with_src_port else 0) << 16) | _port(dport)
    h = _mix(h, ports)
    h = _mix(h, proto)
    return _final(h)


def ring_slot(h, ring_size):
    return (h * ring_size) >> 32


def _dump(*where):
    out = subprocess.run(["bpftool", "-j", "map", "dump", *where], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def _u32(hex_bytes):
    return int.from_bytes(bytes(int(b, 16) for b in hex_bytes), "little")


def _address(words, family):
    packed = struct.pack("<4I", *words)
    return str(ipaddress.ip_address(packed[:4] if family != FAMILY_V6
                                    else packed))


class HostRing:
    """One VIP's ring as one host's maps (pinned under `pins`) hold it."""

    def __init__(self, pins, vip_address, vip_port, proto=socket.IPPROTO_TCP):
        self.vip = (vip_address, vip_port, proto)
        config = _dump("pinned", f"{pins}/config")[0]["formatted"]["value"]
        self.seed = config["hash_seed"]
        want = (_words(vip_address), _port(vip_port), proto)
        for entry in _dump("pinned", f"{pins}/vips"):
            key, value = entry["formatted"]["key"], entry["formatted"]["value"]
            if (tuple(key["addr"]), key["port"], key["proto"]) == want:
                break
        else:
            raise LookupError(f"no VIP {vip_address}:{vip_port} in {pins}/vips")
        self.with_src_port = not value["flags"] & HASH_NO_SRC_PORT
        index = value["index"]
        inner = [e for e in _dump("pinned", f"{pins}/rings")
                 if _u32(e["key"]) == index]
        if not inner:
            raise LookupError(f"VIP {vip_address}:{vip_port} has no ring")
        ring = _dump("id", str(_u32(inner[0]["value"])))
        self.ring = [_u32(e["value"]) for e in ring]
        if len(self.ring) != value["ring_size"]:
            raise AssertionError(f"ring of {len(self.ring)} entries, the VIP "
                                 f"says {value['ring_size']}")
        self.backends = {}
        for entry in _dump("pinned", f"{pins}/backends"):
            b = entry["formatted"]["value"]
            if b["family"]:
                self.backends[entry["formatted"]["key"]] = _address(
                    b["addr"], b["family"])

    def addresses(self):
        """The ring as backend addresses (indexes may differ between hosts;
        the addresses each slot leads to must not)."""
        return [self.backends.get(i) for i in self.ring]

    def predict(self, src, sport):
        """The backend address this host sends the flow to."""
        address, port, proto = self.vip
        h = flow_hash(src, sport, address, port, proto, self.seed,
                      self.with_src_port)
        return self.backends.get(self.ring[ring_slot(h, len(self.ring))])
