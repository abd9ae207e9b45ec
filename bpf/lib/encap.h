/* Encapsulation: the outer IPv4 or IPv6 header in front of the original IP
 * packet, and the Ethernet header towards the gateway. */
#ifndef XLB_LIB_ENCAP_H_
#define XLB_LIB_ENCAP_H_

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

#define OUTER_TTL 64
#define IPPROTO_IPV6_IN_IP 41 /* IPPROTO_IPV6: an IPv6 packet as payload */

static __always_inline __u32 encap_overhead(const struct xlb_backend *be) {
  return be->family == XLB_FAMILY_V4 ? IPV4_HDR_LEN : IPV6_HDR_LEN;
}

/* Network-order mask of the low `bits` bits of a 32-bit word (0..32). */
static __always_inline __be32 host_bits_mask(__u32 bits) {
  if (bits >= 32) return 0xffffffff;
  return bpf_htonl((1u << bits) - 1);
}

/* The configured source with its host bits taken from the flow hash, so a
 * backend's NIC can spread flows over its receive queues. */
static __always_inline __be32 outer_src_v4(const struct xlb_config *cfg,
                                           __u32 hash) {
  __u32 plen = cfg->src_v4_prefix_len;
  __be32 host = host_bits_mask(plen >= 32 ? 0 : 32 - plen);
  return (cfg->src_v4 & ~host) | (bpf_htonl(hash) & host);
}

static __always_inline void outer_src_v6(const struct xlb_config *cfg,
                                         __u32 hash, __be32 *src) {
  __u32 plen = cfg->src_v6_prefix_len < 96 ? 96 : cfg->src_v6_prefix_len;
  __be32 host = host_bits_mask(plen >= 128 ? 0 : 128 - plen);
  src[0] = cfg->src_v6[0];
  src[1] = cfg->src_v6[1];
  src[2] = cfg->src_v6[2];
  src[3] = (cfg->src_v6[3] & ~host) | (bpf_htonl(hash) & host);
}

/* Writes Ethernet (towards the gateway) and the outer header for `be` in
 * front of the IP packet described by `pkt`, into a frame that already has
 * room for them: Ethernet at `data`, the outer header right after it.
 * Shared by the XDP balancer and the TC health-probe program. Returns 0, or
 * -1 if the frame is too short. */
static __always_inline int write_encap_headers(void *data, void *data_end,
                                               const struct xlb_packet *pkt,
                                               const struct xlb_backend *be,
                                               const struct xlb_config *cfg,
                                               __u32 hash) {
  struct ethhdr *eth = data;
  __u8 inner_proto =
      pkt->flow.family == XLB_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6_IN_IP;

  if (be->family == XLB_FAMILY_V4) {
    struct iphdr *outer = (void *)(eth + 1);
    if ((void *)(outer + 1) > data_end) return -1;
    eth->h_proto = bpf_htons(ETH_P_IP);
    outer->version = 4;
    outer->ihl = 5;
    outer->tos = pkt->tos;
    outer->tot_len = bpf_htons(pkt->ip_len + IPV4_HDR_LEN);
    outer->id = 0;
    outer->frag_off = pkt->df ? bpf_htons(IPV4_DF) : 0;
    outer->ttl = OUTER_TTL;
    outer->protocol = inner_proto;
    outer->check = 0;
    outer->saddr = outer_src_v4(cfg, hash);
    outer->daddr = be->addr[0];
    outer->check = ipv4_header_csum(outer);
  } else {
    struct ipv6hdr *outer = (void *)(eth + 1);
    if ((void *)(outer + 1) > data_end) return -1;
    eth->h_proto = bpf_htons(ETH_P_IPV6);
    *(__be32 *)outer =
        bpf_htonl((6u << 28) | ((__u32)pkt->tos << 20) | (hash & 0xfffff));
    outer->payload_len = bpf_htons(pkt->ip_len);
    outer->nexthdr = inner_proto;
    outer->hop_limit = OUTER_TTL;
    outer_src_v6(cfg, hash, (__be32 *)&outer->saddr);
    __builtin_memcpy(&outer->daddr, be->addr, 16);
  }
  __builtin_memcpy(eth->h_dest, cfg->gateway_mac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, cfg->iface_mac, ETH_ALEN);
  return 0;
}

/* Encapsulates the XDP frame of `pkt` to `be`. Returns 0, or -1 if the kernel
 * refused to resize the frame. */
static __always_inline int encapsulate(struct xdp_md *ctx,
                                       const struct xlb_packet *pkt,
                                       const struct xlb_backend *be,
                                       const struct xlb_config *cfg,
                                       __u32 hash) {
  /* Cut Ethernet padding so the outer length covers exactly the packet. */
  int frame_len = ctx->data_end - ctx->data;
  int padding = frame_len - (int)sizeof(struct ethhdr) - pkt->ip_len;
  if (padding > 0 && bpf_xdp_adjust_tail(ctx, -padding)) return -1;
  if (bpf_xdp_adjust_head(ctx, -(int)encap_overhead(be))) return -1;
  return write_encap_headers((void *)(long)ctx->data,
                             (void *)(long)ctx->data_end, pkt, be, cfg, hash);
}

#endif /* XLB_LIB_ENCAP_H_ */
