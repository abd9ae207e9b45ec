/* Parsing: Ethernet, IPv4/IPv6 and the L4 ports into a struct xlb_packet.
 * Every read is preceded by its own bounds check against data_end. */
#ifndef XLB_LIB_PARSE_H_
#define XLB_LIB_PARSE_H_

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xlb_abi.h"

#define IPV4_DF 0x4000
#define IPV4_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff
#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40
#define ICMP_HDR_LEN 8

/* IPv6 next-header values that announce an extension header. */
#define IPV6_NH_HOP_BY_HOP 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_ESP 50
#define IPV6_NH_AH 51
#define IPV6_NH_DEST_OPTS 60
#define IPV6_NH_MOBILITY 135
#define IPV6_NH_HIP 139
#define IPV6_NH_SHIM6 140

/* What the rest of the path needs to know about a packet. */
struct xlb_packet {
  struct xlb_flow flow;
  __u16 ip_len; /* the whole IP packet, from its header */
  __u8 tos;     /* IPv4 TOS or IPv6 traffic class */
  __u8 df;      /* may not be fragmented: IPv4 DF, always for IPv6 */
  __u8 tcp_syn; /* SYN without ACK: a new connection */
  __u8 icmp_type;
};

/* A parsing step either continues or ends the packet with an action, counted
 * under a reason. */
#define XLB_CONTINUE (-1)

struct xlb_verdict {
  int action; /* XLB_CONTINUE or an XDP_* action */
  __u32 reason;
};

static __always_inline struct xlb_verdict verdict(int action, __u32 reason) {
  struct xlb_verdict v = {.action = action, .reason = reason};
  return v;
}

static __always_inline int ipv6_is_ext_header(__u8 nh) {
  switch (nh) {
    case IPV6_NH_HOP_BY_HOP:
    case IPV6_NH_ROUTING:
    case IPV6_NH_FRAGMENT:
    case IPV6_NH_ESP:
    case IPV6_NH_AH:
    case IPV6_NH_DEST_OPTS:
    case IPV6_NH_MOBILITY:
    case IPV6_NH_HIP:
    case IPV6_NH_SHIM6:
      return 1;
  }
  return 0;
}

/* Reads the L4 header at `l4` inside an IP packet ending at `ip_end`. Each
 * access is checked against ip_end (the packet's own length) and data_end
 * (what the verifier tracks). */
static __always_inline struct xlb_verdict parse_l4(void *l4, void *ip_end,
                                                   void *data_end,
                                                   struct xlb_packet *pkt) {
  if (ip_end > data_end) return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
  switch (pkt->flow.proto) {
    case IPPROTO_TCP: {
      struct tcphdr *th = l4;
      if ((void *)(th + 1) > ip_end || (void *)(th + 1) > data_end ||
          th->doff < 5)
        return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
      pkt->flow.sport = th->source;
      pkt->flow.dport = th->dest;
      pkt->tcp_syn = th->syn && !th->ack;
      return verdict(XLB_CONTINUE, 0);
    }
    case IPPROTO_UDP: {
      struct udphdr *uh = l4;
      if ((void *)(uh + 1) > ip_end || (void *)(uh + 1) > data_end)
        return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
      pkt->flow.sport = uh->source;
      pkt->flow.dport = uh->dest;
      return verdict(XLB_CONTINUE, 0);
    }
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6: {
      __u8 *icmp = l4;
      if ((void *)(icmp + ICMP_HDR_LEN) > ip_end ||
          (void *)(icmp + ICMP_HDR_LEN) > data_end)
        return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
      pkt->icmp_type = icmp[0];
      return verdict(XLB_CONTINUE, 0);
    }
  }
  return verdict(XDP_PASS, XLB_CNT_PASS_NOT_VIP);
}

static __always_inline struct xlb_verdict parse_ipv4(void *data,
                                                     void *data_end,
                                                     struct xlb_packet *pkt) {
  struct iphdr *iph = data + sizeof(struct ethhdr);
  if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
    return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
  __u16 ip_len = bpf_ntohs(iph->tot_len);
  if (ip_len < iph->ihl * 4 || (void *)iph + ip_len > data_end)
    return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
  if (iph->ihl != 5) return verdict(XDP_PASS, XLB_CNT_PASS_IPV4_OPTIONS);
  __u16 frag = bpf_ntohs(iph->frag_off);
  if (frag & (IPV4_MF | IPV4_OFFSET_MASK))
    return verdict(XDP_PASS, XLB_CNT_PASS_IPV4_FRAGMENT);

  pkt->flow.family = XLB_FAMILY_V4;
  pkt->flow.proto = iph->protocol;
  pkt->flow.src[0] = iph->saddr;
  pkt->flow.dst[0] = iph->daddr;
  pkt->ip_len = ip_len;
  pkt->tos = iph->tos;
  pkt->df = (frag & IPV4_DF) != 0;
  return parse_l4(iph + 1, (void *)iph + ip_len, data_end, pkt);
}

static __always_inline struct xlb_verdict parse_ipv6(void *data,
                                                     void *data_end,
                                                     struct xlb_packet *pkt) {
  struct ipv6hdr *ip6h = data + sizeof(struct ethhdr);
  if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
    return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
  __u16 payload_len = bpf_ntohs(ip6h->payload_len);
  if ((void *)(ip6h + 1) + payload_len > data_end)
    return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
  if (ipv6_is_ext_header(ip6h->nexthdr))
    return verdict(XDP_PASS, XLB_CNT_PASS_IPV6_EXT_HDR);

  pkt->flow.family = XLB_FAMILY_V6;
  pkt->flow.proto = ip6h->nexthdr;
  __builtin_memcpy(pkt->flow.src, &ip6h->saddr, 16);
  __builtin_memcpy(pkt->flow.dst, &ip6h->daddr, 16);
  pkt->ip_len = IPV6_HDR_LEN + payload_len;
  pkt->tos = (ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4);
  pkt->df = 1;
  return parse_l4(ip6h + 1, (void *)(ip6h + 1) + payload_len, data_end, pkt);
}

/* Parses the frame from its Ethernet header down to the L4 ports. */
static __always_inline struct xlb_verdict parse_packet(void *data,
                                                       void *data_end,
                                                       struct xlb_packet *pkt) {
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end)
    return verdict(XDP_DROP, XLB_CNT_DROP_MALFORMED);
  if (eth->h_proto == bpf_htons(ETH_P_IP)) return parse_ipv4(data, data_end, pkt);
  if (eth->h_proto == bpf_htons(ETH_P_IPV6))
    return parse_ipv6(data, data_end, pkt);
  return verdict(XDP_PASS, XLB_CNT_PASS_NON_IP);
}

#endif /* XLB_LIB_PARSE_H_ */
