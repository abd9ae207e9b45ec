/* ICMP from the balancer itself: echo replies, "fragmentation needed" /
 * "packet too big", and reading the flow quoted by an ICMP error. */
#ifndef XLB_LIB_ICMP_H_
#define XLB_LIB_ICMP_H_

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/csum.h"
#include "lib/parse.h"
#include "xlb_abi.h"

#define ICMP_TTL 64
/* ICMP types and codes (RFC 792, RFC 4443). */
#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4 /* code of ICMP_DEST_UNREACH */
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETER_PROBLEM 12
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PACKET_TOO_BIG 2
#define ICMPV6_PARAMETER_PROBLEM 4
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

/* The ICMP and ICMPv6 header: type, code, checksum, then four bytes whose
 * meaning depends on the type (echo id/sequence, next-hop MTU). */
struct icmp_hdr {
  __u8 type;
  __u8 code;
  __u16 checksum;
  __be32 rest;
};
/* An ICMP error quotes the offending IP header and 8 bytes of its payload:
 * enough for the client's stack to find the socket (ports, TCP sequence). */
#define QUOTED_L4_LEN 8
#define FRAG_NEEDED_ICMP_LEN (ICMP_HDR_LEN + IPV4_HDR_LEN + QUOTED_L4_LEN)
#define FRAG_NEEDED_FRAME_LEN \
  (sizeof(struct ethhdr) + IPV4_HDR_LEN + FRAG_NEEDED_ICMP_LEN)
#define TOO_BIG6_ICMP_LEN (ICMP_HDR_LEN + IPV6_HDR_LEN + QUOTED_L4_LEN)
#define TOO_BIG6_FRAME_LEN \
  (sizeof(struct ethhdr) + IPV6_HDR_LEN + TOO_BIG6_ICMP_LEN)

static __always_inline void swap_macs(struct ethhdr *eth) {
  __u8 tmp[ETH_ALEN];
  __builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Turns an IPv4 echo request (already bounds-checked: Ethernet, a 20-byte IP
 * header and the ICMP header) into its reply, in place. */
static __always_inline int echo_reply_v4(void *data, void *data_end) {
  struct ethhdr *eth = data;
  struct iphdr *iph = (void *)(eth + 1);
  struct icmp_hdr *icmp = (void *)(iph + 1);
  if ((void *)(icmp + 1) > data_end) return XDP_DROP;
  swap_macs(eth);
  __be32 client = iph->saddr;
  iph->saddr = iph->daddr;
  iph->daddr = client;
  iph->ttl = ICMP_TTL;
  iph->check = 0;
  iph->check = ipv4_header_csum(iph);
  __u16 old_type = *(__u16 *)icmp;
  icmp->type = ICMP_ECHO_REPLY;
  csum_replace16(&icmp->checksum, old_type, *(__u16 *)icmp);
  return XDP_TX;
}

static __always_inline int echo_reply_v6(void *data, void *data_end) {
  struct ethhdr *eth = data;
  struct ipv6hdr *ip6h = (void *)(eth + 1);
  struct icmp_hdr *icmp = (void *)(ip6h + 1);
  if ((void *)(icmp + 1) > data_end) return XDP_DROP;
  swap_macs(eth);
  struct in6_addr client = ip6h->saddr;
  ip6h->saddr = ip6h->daddr;
  ip6h->daddr = client;
  ip6h->hop_limit = ICMP_TTL;
  /* Swapping addresses leaves the pseudo-header sum as it was. */
  __u16 old_type = *(__u16 *)icmp;
  icmp->type = ICMPV6_ECHO_REPLY;
  csum_replace16(&icmp->checksum, old_type, *(__u16 *)icmp);
  return XDP_TX;
}

/* Replaces the frame (an IPv4 packet with DF, at least 8 bytes of L4) with
 * ICMP "fragmentation needed" from the VIP to the client. The new headers
 * are prepended so the original IP header lands, untouched, where the reply
 * quotes it; the tail is then cut after the quoted 8 bytes. */
static __always_inline int send_frag_needed(struct xdp_md *ctx, __u16 mtu) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_DROP;
  struct ethhdr orig_eth = *eth;

  int prepend = IPV4_HDR_LEN + ICMP_HDR_LEN;
  if (bpf_xdp_adjust_head(ctx, -prepend)) return XDP_DROP;
  int len = ctx->data_end - ctx->data;
  if (len < (int)FRAG_NEEDED_FRAME_LEN) return XDP_DROP;
  if (bpf_xdp_adjust_tail(ctx, (int)FRAG_NEEDED_FRAME_LEN - len))
    return XDP_DROP;
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  if (data + FRAG_NEEDED_FRAME_LEN > data_end) return XDP_DROP;

  eth = data;
  struct iphdr *iph = (void *)(eth + 1);
  struct icmp_hdr *icmp = (void *)(iph + 1);
  struct iphdr *quoted = (void *)(icmp + 1);
  __builtin_memcpy(eth->h_dest, orig_eth.h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, orig_eth.h_dest, ETH_ALEN);
  eth->h_proto = bpf_htons(ETH_P_IP);
  iph->version = 4;
  iph->ihl = 5;
  iph->tos = 0;
  iph->tot_len = bpf_htons(IPV4_HDR_LEN + FRAG_NEEDED_ICMP_LEN);
  iph->id = 0;
  iph->frag_off = 0;
  iph->ttl = ICMP_TTL;
  iph->protocol = IPPROTO_ICMP;
  iph->check = 0;
  iph->saddr = quoted->daddr;
  iph->daddr = quoted->saddr;
  iph->check = ipv4_header_csum(iph);
  icmp->type = ICMP_DEST_UNREACH;
  icmp->code = ICMP_FRAG_NEEDED;
  icmp->checksum = 0;
  icmp->rest = bpf_htonl(mtu); /* 16 unused bits, then the next-hop MTU */
  icmp->checksum = csum_fold(csum_add_words(icmp, FRAG_NEEDED_ICMP_LEN / 2, 0));
  return XDP_TX;
}

/* The IPv6 twin of send_frag_needed: ICMPv6 "packet too big". */
static __always_inline int send_packet_too_big(struct xdp_md *ctx, __u32 mtu) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_DROP;
  struct ethhdr orig_eth = *eth;

  int prepend = IPV6_HDR_LEN + ICMP_HDR_LEN;
  if (bpf_xdp_adjust_head(ctx, -prepend)) return XDP_DROP;
  int len = ctx->data_end - ctx->data;
  if (len < (int)TOO_BIG6_FRAME_LEN) return XDP_DROP;
  if (bpf_xdp_adjust_tail(ctx, (int)TOO_BIG6_FRAME_LEN - len)) return XDP_DROP;
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  if (data + TOO_BIG6_FRAME_LEN > data_end) return XDP_DROP;

  eth = data;
  struct ipv6hdr *ip6h = (void *)(eth + 1);
  struct icmp_hdr *icmp = (void *)(ip6h + 1);
  struct ipv6hdr *quoted = (void *)(icmp + 1);
  __builtin_memcpy(eth->h_dest, orig_eth.h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, orig_eth.h_dest, ETH_ALEN);
  eth->h_proto = bpf_htons(ETH_P_IPV6);
  *(__be32 *)ip6h = bpf_htonl(6u << 28);
  ip6h->payload_len = bpf_htons(TOO_BIG6_ICMP_LEN);
  ip6h->nexthdr = IPPROTO_ICMPV6;
  ip6h->hop_limit = ICMP_TTL;
  ip6h->saddr = quoted->daddr;
  ip6h->daddr = quoted->saddr;
  icmp->type = ICMPV6_PACKET_TOO_BIG;
  icmp->code = 0;
  icmp->checksum = 0;
  icmp->rest = bpf_htonl(mtu);
  __u64 sum = csum_add_words(&ip6h->saddr, 16, 0);
  sum += bpf_htons(TOO_BIG6_ICMP_LEN) + bpf_htons(IPPROTO_ICMPV6);
  sum = csum_add_words(icmp, TOO_BIG6_ICMP_LEN / 2, sum);
  icmp->checksum = csum_fold(sum);
  return XDP_TX;
}

static __always_inline int icmp_is_error_v4(__u8 type) {
  return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
         type == ICMP_PARAMETER_PROBLEM;
}

static __always_inline int icmp_is_error_v6(__u8 type) {
  return type >= ICMPV6_DEST_UNREACH && type <= ICMPV6_PARAMETER_PROBLEM;
}

/* Reads the packet quoted by an ICMP error into `flow`, reversed: the quoted
 * packet went VIP -> client, the flow is client -> VIP. Returns 0, or -1 if
 * the quote is too short or not TCP/UDP over a plain IP header. */
static __always_inline int quoted_flow_v4(void *quote, void *data_end,
                                          struct xlb_flow *flow) {
  struct iphdr *iph = quote;
  __be16 *ports = (void *)(iph + 1);
  if ((void *)ports + QUOTED_L4_LEN > data_end) return -1;
  if (iph->ihl != 5 ||
      (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP))
    return -1;
  flow->family = XLB_FAMILY_V4;
  flow->proto = iph->protocol;
  flow->src[0] = iph->daddr;
  flow->dst[0] = iph->saddr;
  flow->sport = ports[1];
  flow->dport = ports[0];
  return 0;
}

static __always_inline int quoted_flow_v6(void *quote, void *data_end,
                                          struct xlb_flow *flow) {
  struct ipv6hdr *ip6h = quote;
  __be16 *ports = (void *)(ip6h + 1);
  if ((void *)ports + QUOTED_L4_LEN > data_end) return -1;
  if (ip6h->nexthdr != IPPROTO_TCP && ip6h->nexthdr != IPPROTO_UDP) return -1;
  flow->family = XLB_FAMILY_V6;
  flow->proto = ip6h->nexthdr;
  __builtin_memcpy(flow->src, &ip6h->daddr, 16);
  __builtin_memcpy(flow->dst, &ip6h->saddr, 16);
  flow->sport = ports[1];
  flow->dport = ports[0];
  return 0;
}

#endif /* XLB_LIB_ICMP_H_ */
