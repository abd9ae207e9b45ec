#include "bpf/tests/packet_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bpf/lib/flow_hash.h"
#include "lb/base/checksum.h"

namespace xlb::testing {
namespace {

void Put8(Bytes& b, uint8_t v) { b.push_back(v); }
void Put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void Put32(Bytes& b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}
void PutBytes(Bytes& b, std::span<const uint8_t> s) {
  b.insert(b.end(), s.begin(), s.end());
}
void Store16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
uint16_t Load16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "packet_builder: %s\n", what.c_str());
  std::abort();
}

// Replaces the low `bits` bits (0..32) of a host-order word by those of `h`.
uint32_t ReplaceLowBits(uint32_t word, uint32_t h, unsigned bits) {
  if (bits == 0) return word;
  const uint32_t mask = bits >= 32 ? 0xffffffffu : ((1u << bits) - 1);
  return (word & ~mask) | (h & mask);
}

}  // namespace

IpAddr IpAddr::V4(std::string_view text) {
  IpAddr a;
  a.family = 4;
  if (inet_pton(AF_INET, std::string(text).c_str(), a.bytes.data()) != 1) {
    Die("bad IPv4 literal " + std::string(text));
  }
  return a;
}

IpAddr IpAddr::V6(std::string_view text) {
  IpAddr a;
  a.family = 6;
  if (inet_pton(AF_INET6, std::string(text).c_str(), a.bytes.data()) != 1) {
    Die("bad IPv6 literal " + std::string(text));
  }
  return a;
}

void IpAddr::ToAbi(__be32 out[4]) const {
  std::memset(out, 0, 16);
  std::memcpy(out, bytes.data(), size());
}

std::string IpAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

Mac MacFromString(std::string_view text) {
  Mac m{};
  unsigned v[6];
  if (std::sscanf(std::string(text).c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1],
                  &v[2], &v[3], &v[4], &v[5]) != 6) {
    Die("bad MAC literal " + std::string(text));
  }
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

// ---- Checksums ----

uint32_t PseudoHeaderSum(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                         uint32_t length) {
  Bytes p;
  PutBytes(p, src.wire());
  PutBytes(p, dst.wire());
  if (src.family == 4) {
    Put8(p, 0);
    Put8(p, proto);
    Put16(p, static_cast<uint16_t>(length));
  } else {
    Put32(p, length);
    Put16(p, 0);
    Put8(p, 0);
    Put8(p, proto);
  }
  return ChecksumAccumulate(0, p);
}

// ---- Layer 4 ----

Bytes BuildTcp(const IpAddr& src, const IpAddr& dst, const TcpFields& tcp) {
  Bytes b;
  Put16(b, tcp.sport);
  Put16(b, tcp.dport);
  Put32(b, tcp.seq);
  Put32(b, tcp.ack);
  const uint8_t doff = tcp.data_offset.value_or(
      static_cast<uint8_t>(5 + tcp.options.size() / 4));
  Put8(b, static_cast<uint8_t>(doff << 4));
  Put8(b, tcp.flags);
  Put16(b, tcp.window);
  Put16(b, 0);  // checksum
  Put16(b, 0);  // urgent pointer
  PutBytes(b, tcp.options);
  PutBytes(b, tcp.payload);
  uint32_t sum = PseudoHeaderSum(src, dst, kProtoTcp, b.size());
  Store16(b, 16, ChecksumFinish(ChecksumAccumulate(sum, b)));
  return b;
}

Bytes BuildUdp(const IpAddr& src, const IpAddr& dst, uint16_t sport,
               uint16_t dport, const Bytes& payload) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put16(b, static_cast<uint16_t>(8 + payload.size()));
  Put16(b, 0);
  PutBytes(b, payload);
  uint32_t sum = PseudoHeaderSum(src, dst, kProtoUdp, b.size());
  uint16_t csum = ChecksumFinish(ChecksumAccumulate(sum, b));
  Store16(b, 6, csum == 0 ? 0xffff : csum);
  return b;
}

Bytes BuildIcmpv4(uint8_t type, uint8_t code, uint32_t rest,
                  const Bytes& body) {
  Bytes b;
  Put8(b, type);
  Put8(b, code);
  Put16(b, 0);
  Put32(b, rest);
  PutBytes(b, body);
  Store16(b, 2, InternetChecksum(b));
  return b;
}

Bytes BuildIcmpv6(const IpAddr& src, const IpAddr& dst, uint8_t type,
                  uint8_t code, uint32_t rest, const Bytes& body) {
  Bytes b;
  Put8(b, type);
  Put8(b, code);
  Put16(b, 0);
  Put32(b, rest);
  PutBytes(b, body);
  uint32_t sum = PseudoHeaderSum(src, dst, kProtoIcmpv6, b.size());
  Store16(b, 2, ChecksumFinish(ChecksumAccumulate(sum, b)));
  return b;
}

// ---- Layer 3 ----

Bytes BuildIpv4(const Ipv4Fields& ip, const Bytes& payload) {
  const size_t header_len = kIpv4HeaderLen + ip.options.size();
  Bytes b;
  const uint8_t version = ip.version.value_or(4);
  const uint8_t ihl = ip.ihl.value_or(static_cast<uint8_t>(header_len / 4));
  Put8(b, static_cast<uint8_t>(version << 4 | (ihl & 0xf)));
  Put8(b, ip.tos);
  Put16(b, ip.total_length.value_or(
               static_cast<uint16_t>(header_len + payload.size())));
  Put16(b, ip.id);
  uint16_t frag = ip.frag_offset & 0x1fff;
  if (ip.df) frag |= 0x4000;
  if (ip.mf) frag |= 0x2000;
  Put16(b, frag);
  Put8(b, ip.ttl);
  Put8(b, ip.protocol);
  Put16(b, 0);
  PutBytes(b, ip.src.wire());
  PutBytes(b, ip.dst.wire());
  PutBytes(b, ip.options);
  Store16(b, 10, InternetChecksum(b));
  PutBytes(b, payload);
  return b;
}

Bytes BuildIpv6(const Ipv6Fields& ip, const Bytes& payload) {
  Bytes b;
  const uint32_t version = ip.version.value_or(6);
  Put32(b, version << 28 | static_cast<uint32_t>(ip.traffic_class) << 20 |
               (ip.flow_label & 0xfffff));
  Put16(b, ip.payload_length.value_or(static_cast<uint16_t>(payload.size())));
  Put8(b, ip.next_header);
  Put8(b, ip.hop_limit);
  PutBytes(b, ip.src.wire());
  PutBytes(b, ip.dst.wire());
  PutBytes(b, payload);
  return b;
}

Bytes BuildIp(const IpAddr& src, const IpAddr& dst, uint8_t proto,
              const Bytes& l4, const IpParams& params) {
  if (src.family == 4) {
    Ipv4Fields ip;
    ip.src = src;
    ip.dst = dst;
    ip.tos = params.tos;
    ip.df = params.df;
    ip.ttl = params.ttl;
    ip.id = params.id;
    ip.protocol = proto;
    return BuildIpv4(ip, l4);
  }
  Ipv6Fields ip;
  ip.src = src;
  ip.dst = dst;
  ip.traffic_class = params.tos;
  ip.flow_label = params.flow_label;
  ip.hop_limit = params.ttl;
  ip.next_header = proto;
  return BuildIpv6(ip, l4);
}

Bytes TcpPacket(const IpAddr& src, const IpAddr& dst, const TcpFields& tcp,
                const IpParams& params) {
  return BuildIp(src, dst, kProtoTcp, BuildTcp(src, dst, tcp), params);
}

Bytes UdpPacket(const IpAddr& src, const IpAddr& dst, uint16_t sport,
                uint16_t dport, const Bytes& payload, const IpParams& params) {
  return BuildIp(src, dst, kProtoUdp, BuildUdp(src, dst, sport, dport, payload),
                 params);
}

// ---- Layer 2 ----

Bytes BuildEthernet(const Mac& dst, const Mac& src, uint16_t ethertype,
                    const Bytes& payload) {
  Bytes b;
  PutBytes(b, dst);
  PutBytes(b, src);
  Put16(b, ethertype);
  PutBytes(b, payload);
  return b;
}

Bytes EthernetFrame(const Mac& dst, const Mac& src, const Bytes& ip_packet) {
  const uint16_t type = (!ip_packet.empty() && ip_packet[0] >> 4 == 6)
                            ? kEthTypeIpv6
                            : kEthTypeIpv4;
  return BuildEthernet(dst, src, type, ip_packet);
}

Bytes ArpRequestFrame(const Mac& src, const IpAddr& sender,
                      const IpAddr& target) {
  Bytes arp;
  Put16(arp, 1);  // hardware: Ethernet
  Put16(arp, kEthTypeIpv4);
  Put8(arp, 6);
  Put8(arp, 4);
  Put16(arp, 1);  // request
  PutBytes(arp, src);
  PutBytes(arp, sender.wire());
  PutBytes(arp, Mac{});
  PutBytes(arp, target.wire());
  const Mac broadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  return BuildEthernet(broadcast, src, kEthTypeArp, arp);
}

// ---- Expected outputs ----

xlb_flow MakeFlow(const IpAddr& src, const IpAddr& dst, uint16_t sport,
                  uint16_t dport, uint8_t proto) {
  xlb_flow f;
  std::memset(&f, 0, sizeof(f));
  src.ToAbi(f.src);
  dst.ToAbi(f.dst);
  f.sport = htons(sport);
  f.dport = htons(dport);
  f.proto = proto;
  f.family =
      static_cast<uint8_t>(src.family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6);
  return f;
}

uint32_t FlowHash(const xlb_flow& flow, uint32_t seed, bool with_src_port) {
  return xlb_flow_hash(&flow, seed, with_src_port ? 1 : 0);
}

uint32_t RingSlot(uint32_t hash, uint32_t ring_size) {
  return xlb_ring_slot(hash, ring_size);
}

// "config.src_v4 with its low 32 - prefix_len bits replaced by the same bits
// of htonl(hash)": in wire order the address's last bits take the hash's
// last (least significant) bits.
IpAddr OuterSourceV4(const IpAddr& base, uint8_t prefix_len, uint32_t hash) {
  uint32_t word;
  std::memcpy(&word, base.bytes.data(), 4);
  word = htonl(ReplaceLowBits(ntohl(word), hash,
                              32u - std::min<unsigned>(prefix_len, 32)));
  IpAddr out = base;
  std::memcpy(out.bytes.data(), &word, 4);
  return out;
}

// Only the last 32-bit word varies: 128 - max(prefix_len, 96) bits of it.
IpAddr OuterSourceV6(const IpAddr& base, uint8_t prefix_len, uint32_t hash) {
  const unsigned bits = 128u - std::clamp<unsigned>(prefix_len, 96, 128);
  uint32_t word;
  std::memcpy(&word, base.bytes.data() + 12, 4);
  word = htonl(ReplaceLowBits(ntohl(word), hash, bits));
  IpAddr out = base;
  std::memcpy(out.bytes.data() + 12, &word, 4);
  return out;
}

Bytes EncapsulatedFrame(const EncapParams& p, const Bytes& inner) {
  if (inner.empty()) Die("empty inner packet");
  const bool inner_v6 = inner[0] >> 4 == 6;
  // The inner TOS / traffic class byte.
  const uint8_t tos =
      inner_v6 ? static_cast<uint8_t>((inner[0] << 4) | (inner[1] >> 4))
               : inner[1];
  const uint8_t proto = inner_v6 ? kProtoIpv6 : kProtoIpip;
  Bytes outer;
  if (p.backend.family == 4) {
    const bool inner_df = !inner_v6 && (inner[6] & 0x40);
    Ipv4Fields ip;
    ip.src = p.outer_src;
    ip.dst = p.backend;
    ip.tos = tos;
    ip.id = 0;
    ip.df = inner_v6 || inner_df;
    ip.ttl = 64;
    ip.protocol = proto;
    outer = BuildIpv4(ip, inner);
  } else {
    Ipv6Fields ip;
    ip.src = p.outer_src;
    ip.dst = p.backend;
    ip.traffic_class = tos;
    ip.flow_label = p.hash & 0xfffff;
    ip.next_header = proto;
    ip.hop_limit = 64;
    outer = BuildIpv6(ip, inner);
  }
  return EthernetFrame(p.gateway_mac, p.iface_mac, outer);
}

namespace {

struct ParsedFrame {
  Mac dst{}, src{};
  IpAddr ip_src, ip_dst;
  size_t ip_offset = kEthHeaderLen;
};

ParsedFrame ParseIpFrame(const Bytes& frame, int family) {
  ParsedFrame f;
  const size_t header_len = family == 4 ? kIpv4HeaderLen : kIpv6HeaderLen;
  if (frame.size() < kEthHeaderLen + header_len) Die("frame too short");
  std::copy_n(frame.begin(), 6, f.dst.begin());
  std::copy_n(frame.begin() + 6, 6, f.src.begin());
  f.ip_src.family = f.ip_dst.family = family;
  const size_t addr_at = kEthHeaderLen + (family == 4 ? 12 : 8);
  const size_t len = family == 4 ? 4 : 16;
  std::copy_n(frame.begin() + addr_at, len, f.ip_src.bytes.begin());
  std::copy_n(frame.begin() + addr_at + len, len, f.ip_dst.bytes.begin());
  return f;
}

}  // namespace

Bytes FragNeededFrame(const Bytes& request, uint16_t mtu) {
  const ParsedFrame f = ParseIpFrame(request, 4);
  const size_t quote_len = kIpv4HeaderLen + 8;
  if (request.size() < kEthHeaderLen + quote_len) Die("request too short");
  Bytes quote(request.begin() + kEthHeaderLen,
              request.begin() + kEthHeaderLen + quote_len);
  // type 3 code 4: 16 unused bits, then the next-hop MTU.
  Bytes icmp =
      BuildIcmpv4(kIcmpDestUnreachable, kIcmpCodeFragNeeded, mtu, quote);
  Ipv4Fields ip;
  ip.src = f.ip_dst;
  ip.dst = f.ip_src;
  ip.tos = 0;
  ip.id = 0;
  ip.df = false;
  ip.ttl = 64;
  ip.protocol = kProtoIcmp;
  return EthernetFrame(f.src, f.dst, BuildIpv4(ip, icmp));
}

Bytes PacketTooBigFrame(const Bytes& request, uint32_t mtu) {
  const ParsedFrame f = ParseIpFrame(request, 6);
  const size_t quote_len = kIpv6HeaderLen + 8;
  if (request.size() < kEthHeaderLen + quote_len) Die("request too short");
  Bytes quote(request.begin() + kEthHeaderLen,
              request.begin() + kEthHeaderLen + quote_len);
  Bytes icmp =
      BuildIcmpv6(f.ip_dst, f.ip_src, kIcmp6PacketTooBig, 0, mtu, quote);
  Ipv6Fields ip;
  ip.src = f.ip_dst;
  ip.dst = f.ip_src;
  ip.traffic_class = 0;
  ip.flow_label = 0;
  ip.hop_limit = 64;
  ip.next_header = kProtoIcmpv6;
  return EthernetFrame(f.src, f.dst, BuildIpv6(ip, icmp));
}

Bytes EchoReplyFrame(const Bytes& request) {
  const bool v6 = Load16(request, 12) == kEthTypeIpv6;
  const ParsedFrame f = ParseIpFrame(request, v6 ? 6 : 4);
  Bytes out = request;
  std::copy(f.src.begin(), f.src.end(), out.begin());
  std::copy(f.dst.begin(), f.dst.end(), out.begin() + 6);
  const size_t ip = kEthHeaderLen;
  if (!v6) {
    const size_t ihl = (out[ip] & 0xf) * 4;
    const size_t total = Load16(out, ip + 2);
    std::copy_n(f.ip_dst.bytes.begin(), 4, out.begin() + ip + 12);
    std::copy_n(f.ip_src.bytes.begin(), 4, out.begin() + ip + 16);
    out[ip + 8] = 64;
    Store16(out, ip + 10, 0);
    Store16(out, ip + 10, InternetChecksum(std::span(out).subspan(ip, ihl)));
    const size_t icmp = ip + ihl;
    out[icmp] = kIcmpEchoReply;
    Store16(out, icmp + 2, 0);
    Store16(out, icmp + 2,
            InternetChecksum(std::span(out).subspan(icmp, total - ihl)));
  } else {
    const size_t payload_len = Load16(out, ip + 4);
    std::copy_n(f.ip_dst.bytes.begin(), 16, out.begin() + ip + 8);
    std::copy_n(f.ip_src.bytes.begin(), 16, out.begin() + ip + 24);
    out[ip + 7] = 64;
    const size_t icmp = ip + kIpv6HeaderLen;
    out[icmp] = kIcmp6EchoReply;
    Store16(out, icmp + 2, 0);
    const uint32_t sum =
        PseudoHeaderSum(f.ip_dst, f.ip_src, kProtoIcmpv6, payload_len);
    Store16(out, icmp + 2,
            ChecksumFinish(ChecksumAccumulate(
                sum, std::span(out).subspan(icmp, payload_len))));
  }
  return out;
}

std::string HexDump(std::span<const uint8_t> bytes) {
  std::string s;
  char buf[24];
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i % 16 == 0) {
      std::snprintf(buf, sizeof(buf), "%s%04zx:", i ? "\n" : "", i);
      s += buf;
    }
    std::snprintf(buf, sizeof(buf), " %02x", bytes[i]);
    s += buf;
  }
  return s;
}

}  // namespace xlb::testing
