/* xlb_decap (XDP, on a backend): strips the outer header of IPv4-in-IPv4,
 * IPv6-in-IPv6, IPv4-in-IPv6 and IPv6-in-IPv4 packets addressed to this host
 * and hands the inner packet to the kernel, which delivers it to the VIP on
 * the loopback. Everything else passes untouched. See docs/dataplane.md. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/encap.h"
#include "lib/parse.h"
#include "xlb_abi.h"

#define MAX_LOCAL_ADDRS 64

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MAX_LOCAL_ADDRS);
  __type(key, struct xlb_local_addr);
  __type(value, __u8);
} local_addrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XLB_DECAP_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} decap_stats SEC(".maps");

static __always_inline int finish(int action, __u32 reason) {
  __u64 *c = bpf_map_lookup_elem(&decap_stats, &reason);
  if (c) *c += 1;
  return action;
}

static __always_inline int is_tunnel_proto(__u8 proto) {
  return proto == IPPROTO_IPIP || proto == IPPROTO_IPV6_IN_IP;
}

static __always_inline int is_local(const void *addr, __u8 family) {
  struct xlb_local_addr key = {.family = family};
  __builtin_memcpy(key.addr, addr, family == XLB_FAMILY_V4 ? 4 : 16);
  return bpf_map_lookup_elem(&local_addrs, &key) != 0;
}

SEC("xdp")
int xlb_decap(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  finish(0, XLB_DECAP_CNT_RX);
  if ((void *)(eth + 1) > data_end) return finish(XDP_PASS, XLB_DECAP_CNT_PASS);

  __u32 outer_len;
  __u32 inner_len;
  __u8 inner_proto;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *iph = (void *)(eth + 1);
    if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl != 5 ||
        !is_tunnel_proto(iph->protocol) ||
        (bpf_ntohs(iph->frag_off) & (IPV4_MF | IPV4_OFFSET_MASK)) ||
        !is_local(&iph->daddr, XLB_FAMILY_V4))
      return finish(XDP_PASS, XLB_DECAP_CNT_PASS);
    __u16 tot_len = bpf_ntohs(iph->tot_len);
    if (tot_len < IPV4_HDR_LEN || (void *)iph + tot_len > data_end)
      return finish(XDP_DROP, XLB_DECAP_CNT_DROP_MALFORMED);
    outer_len = IPV4_HDR_LEN;
    inner_len = tot_len - IPV4_HDR_LEN;
    inner_proto = iph->protocol;
  } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6h = (void *)(eth + 1);
    if ((void *)(ip6h + 1) > data_end || ip6h->version != 6 ||
        !is_tunnel_proto(ip6h->nexthdr) ||
        !is_local(&ip6h->daddr, XLB_FAMILY_V6))
      return finish(XDP_PASS, XLB_DECAP_CNT_PASS);
    __u16 payload_len = bpf_ntohs(ip6h->payload_len);
    if ((void *)(ip6h + 1) + payload_len > data_end)
      return finish(XDP_DROP, XLB_DECAP_CNT_DROP_MALFORMED);
    outer_len = IPV6_HDR_LEN;
    inner_len = payload_len;
    inner_proto = ip6h->nexthdr;
  } else {
    return finish(XDP_PASS, XLB_DECAP_CNT_PASS);
  }

  /* The inner header must be there, of the family the outer one announced. */
  __u8 *inner = data + sizeof(struct ethhdr) + outer_len;
  __u32 inner_min = inner_proto == IPPROTO_IPIP ? IPV4_HDR_LEN : IPV6_HDR_LEN;
  __u8 inner_version = inner_proto == IPPROTO_IPIP ? 4 : 6;
  if ((void *)(inner + 1) > data_end || inner_len < inner_min ||
      (void *)inner + inner_min > data_end || (*inner >> 4) != inner_version)
    return finish(XDP_DROP, XLB_DECAP_CNT_DROP_MALFORMED);

  struct ethhdr new_eth = *eth;
  new_eth.h_proto =
      bpf_htons(inner_proto == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6);
  int trailing = (int)(data_end - data) -
                 (int)(sizeof(struct ethhdr) + outer_len + inner_len);
  if (trailing > 0 && bpf_xdp_adjust_tail(ctx, -trailing))
    return finish(XDP_DROP, XLB_DECAP_CNT_DROP_MALFORMED);
  if (bpf_xdp_adjust_head(ctx, outer_len))
    return finish(XDP_DROP, XLB_DECAP_CNT_DROP_MALFORMED);
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  eth = data;
  if ((void *)(eth + 1) > data_end)
    return finish(XDP_DROP, XLB_DECAP_CNT_DROP_MALFORMED);
  *eth = new_eth;
  return finish(XDP_PASS, XLB_DECAP_CNT_DECAPSULATED);
}

char LICENSE[] SEC("license") = "GPL";
