/* xlb_healthcheck (TC egress, on the LB host): a health probe sent to a VIP
 * by the agent carries SO_MARK = XLB_HC_MARK_TAG | backend index. This
 * program encapsulates it to that backend exactly as the balancer would
 * forward a client's packet, so the probe tests the path real traffic takes:
 * the tunnel, decapsulation and the VIP on the backend. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/encap.h"
#include "lib/flow_hash.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "xlb_abi.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XLB_HC_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} hc_stats SEC(".maps");

static __always_inline int finish(int action, __u32 reason) {
  __u64 *c = bpf_map_lookup_elem(&hc_stats, &reason);
  if (c) *c += 1;
  return action;
}

SEC("tc")
int xlb_healthcheck(struct __sk_buff *skb) {
  if ((skb->mark & XLB_HC_MARK_TAG_MASK) != XLB_HC_MARK_TAG) return TC_ACT_OK;
  __u32 index = skb->mark & XLB_HC_MARK_INDEX_MASK;
  struct xlb_backend *be = bpf_map_lookup_elem(&backends, &index);
  if (!be || be->state == XLB_BACKEND_UNUSED)
    return finish(TC_ACT_SHOT, XLB_HC_CNT_DROP_UNKNOWN_BACKEND);
  struct xlb_config *cfg = get_config();
  if (!cfg) return finish(TC_ACT_SHOT, XLB_HC_CNT_DROP_NO_CONFIG);

  /* A probe's payload may sit outside the linear part of the skb; the
   * parser reads the whole IP packet, so make it linear (probes are small). */
  if (bpf_skb_pull_data(skb, skb->len))
    return finish(TC_ACT_SHOT, XLB_HC_CNT_DROP_ERROR);
  struct xlb_packet pkt = {};
  struct xlb_verdict v = parse_packet((void *)(long)skb->data,
                                      (void *)(long)skb->data_end, &pkt);
  if (v.action != XLB_CONTINUE)
    return finish(TC_ACT_SHOT, XLB_HC_CNT_DROP_ERROR);

  __u32 hash = xlb_flow_hash(&pkt.flow, cfg->hash_seed, 1);
  __u64 flags = be->family == XLB_FAMILY_V4 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV4
                                            : BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
  if (bpf_skb_adjust_room(skb, encap_overhead(be), BPF_ADJ_ROOM_MAC, flags))
    return finish(TC_ACT_SHOT, XLB_HC_CNT_DROP_ERROR);
  if (write_encap_headers((void *)(long)skb->data, (void *)(long)skb->data_end,
                          &pkt, be, cfg, hash))
    return finish(TC_ACT_SHOT, XLB_HC_CNT_DROP_ERROR);
  skb->mark = 0;
  return finish(TC_ACT_OK, XLB_HC_CNT_ENCAPSULATED);
}

char LICENSE[] SEC("license") = "GPL";
