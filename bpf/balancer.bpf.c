/* xlb_balancer (XDP): picks a backend for every packet to a VIP with Maglev
 * consistent hashing and forwards it IP-in-IP encapsulated. The behaviour,
 * byte for byte, is specified in docs/dataplane.md. Reads top to bottom as
 * the packet path: parse, look up the VIP, pick the backend, encapsulate. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/encap.h"
#include "lib/flow_hash.h"
#include "lib/icmp.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/syn_limit.h"
#include "xlb_abi.h"

/* Connection entries are refreshed at most this often, so the hot path does
 * not write a shared cache line on every packet. Idle timeouts are >= 1 s. */
#define CONN_REFRESH_NS 1000000000ull

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, XLB_DEFAULT_MAX_VIPS);
  __type(key, struct xlb_vip_key);
  __type(value, struct xlb_vip_value);
} vips SEC(".maps");

/* One Maglev ring per VIP index. The agent swaps in a new ring whole and
 * rewrites an existing one in place, only the slots that change. */
struct ring {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __uint(map_flags, BPF_F_INNER_MAP);
  __type(key, __u32);
  __type(value, __u32);
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, XLB_DEFAULT_MAX_VIPS);
  __type(key, __u32);
  __array(values, struct ring);
} rings SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XLB_DEFAULT_MAX_CONNS);
  __uint(map_flags, BPF_F_NO_COMMON_LRU);
  __type(key, struct xlb_flow);
  __type(value, struct xlb_conn);
} conns SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XLB_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XLB_DEFAULT_MAX_VIPS);
  __type(key, __u32);
  __type(value, struct xlb_vip_stats);
} vip_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XLB_DEFAULT_MAX_BACKENDS);
  __type(key, __u32);
  __type(value, struct xlb_backend_stats);
} backend_stats SEC(".maps");

static __always_inline void count(__u32 reason) {
  __u64 *c = bpf_map_lookup_elem(&stats, &reason);
  if (c) *c += 1;
}

/* Every packet ends here exactly once, so this is where it is counted as
 * received too: counted on entry instead, the first touch of the counters
 * sits at the head of every path (about 25 ns more, docs/benchmarks.md). */
static __always_inline int finish(int action, __u32 reason) {
  count(XLB_CNT_RX);
  count(reason);
  return action;
}

static __always_inline struct xlb_vip_value *lookup_vip(
    const struct xlb_flow *flow, __be16 port) {
  struct xlb_vip_key key = {
      .port = port, .proto = flow->proto, .family = flow->family};
  __builtin_memcpy(key.addr, flow->dst, sizeof(key.addr));
  struct xlb_vip_value *vip = bpf_map_lookup_elem(&vips, &key);
  if (vip || port == 0) return vip;
  key.port = 0; /* port-wildcard VIP */
  return bpf_map_lookup_elem(&vips, &key);
}

static __always_inline __u64 idle_timeout(const struct xlb_config *cfg,
                                          __u8 proto) {
  return proto == IPPROTO_TCP ? cfg->tcp_idle_timeout_ns
                              : cfg->udp_idle_timeout_ns;
}

/* The backend of a connection entry, or NULL if the entry may not be
 * trusted: its backend is down or unused, its index was given to another
 * backend since (generation), or the flow has been idle too long. */
static __always_inline struct xlb_backend *conn_backend(
    const struct xlb_conn *conn, const struct xlb_config *cfg, __u8 proto,
    __u64 now) {
  __u32 index = conn->backend;
  struct xlb_backend *be = bpf_map_lookup_elem(&backends, &index);
  __u64 timeout = idle_timeout(cfg, proto);
  if (!be || be->generation != conn->generation ||
      (be->state != XLB_BACKEND_UP && be->state != XLB_BACKEND_DRAINING) ||
      (timeout && now - conn->last_seen_ns > timeout))
    return 0;
  return be;
}

/* The backend Maglev gives a new flow, or 0 if the VIP has none. */
static __always_inline __u32 maglev_backend(const struct xlb_vip_value *vip,
                                            __u32 hash) {
  __u32 vip_index = vip->index;
  void *ring = bpf_map_lookup_elem(&rings, &vip_index);
  if (!ring) return XLB_NO_BACKEND;
  __u32 slot = xlb_ring_slot(hash, vip->ring_size);
  __u32 *index = bpf_map_lookup_elem(ring, &slot);
  return index ? *index : XLB_NO_BACKEND;
}

static __always_inline void count_forwarded(__u32 vip_index, __u32 be_index,
                                            __u32 bytes, int new_flow) {
  struct xlb_vip_stats *vs = bpf_map_lookup_elem(&vip_stats, &vip_index);
  if (vs) {
    vs->packets += 1;
    vs->bytes += bytes;
    vs->new_flows += new_flow;
  }
  struct xlb_backend_stats *bs = bpf_map_lookup_elem(&backend_stats, &be_index);
  if (bs) {
    bs->packets += 1;
    bs->bytes += bytes;
  }
}

static __always_inline int drop_no_backend(__u32 vip_index) {
  struct xlb_vip_stats *vs = bpf_map_lookup_elem(&vip_stats, &vip_index);
  if (vs) vs->no_backend_drops += 1;
  return finish(XDP_DROP, XLB_CNT_DROP_NO_BACKEND);
}

/* What a packet being sent to a backend is. */
enum xlb_send_kind {
  SEND_ESTABLISHED, /* its flow's connection entry chose the backend */
  SEND_SYN,         /* a TCP SYN: Maglev chose it, no entry was written */
  SEND_NEW_FLOW,    /* Maglev chose it; the entry was just written */
  SEND_ICMP_ERROR,  /* an ICMP error about a flow, sent after it */
};

/* Encapsulates `pkt` to backend `be`, or answers "too big" when it would no
 * longer fit the MTU. */
static __always_inline int send_to_backend(
    struct xdp_md *ctx, const struct xlb_packet *pkt,
    const struct xlb_backend *be, __u32 be_index, __u32 vip_index,
    const struct xlb_config *cfg, __u32 hash, enum xlb_send_kind kind) {
  __u32 overhead = encap_overhead(be);
  if (pkt->ip_len + overhead > cfg->mtu) {
    __u32 fits = cfg->mtu - overhead;
    if (kind == SEND_ICMP_ERROR ||
        (pkt->flow.family == XLB_FAMILY_V4 && !pkt->df))
      return finish(XDP_DROP, XLB_CNT_DROP_TOO_BIG);
    if (pkt->flow.family == XLB_FAMILY_V4)
      return finish(send_frag_needed(ctx, fits), XLB_CNT_ICMP_FRAG_NEEDED);
    return finish(send_packet_too_big(ctx, fits), XLB_CNT_ICMP6_TOO_BIG);
  }
  if (encapsulate(ctx, pkt, be, cfg, hash))
    return finish(XDP_DROP, XLB_CNT_DROP_ADJUST_FAILED);
  count_forwarded(vip_index, be_index, pkt->ip_len, kind == SEND_NEW_FLOW);
  if (kind == SEND_ICMP_ERROR) count(XLB_CNT_ICMP_ERROR_FORWARDED);
  return finish(XDP_TX, XLB_CNT_TX);
}

/* The fast path: a packet whose flow has a trusted connection entry goes to
 * its backend without looking up the VIP at all; the entry carries the VIP
 * index (for counters) and the flow hash (for the outer header). Returns
 * XLB_CONTINUE when there is no such entry (*stale says whether one was
 * found but ignored). An entry outlives neither its VIP nor its VIP's index:
 * the agent deletes a VIP's entries when it frees the VIP's index. */
static __always_inline int forward_established(struct xdp_md *ctx,
                                               struct xlb_packet *pkt,
                                               int *stale) {
  struct xlb_conn *conn = bpf_map_lookup_elem(&conns, &pkt->flow);
  if (!conn) return XLB_CONTINUE;
  struct xlb_config *cfg = get_config();
  if (!cfg || cfg->mtu == 0) return finish(XDP_DROP, XLB_CNT_DROP_NO_CONFIG);
  __u64 now = bpf_ktime_get_coarse_ns();
  struct xlb_backend *be = conn_backend(conn, cfg, pkt->flow.proto, now);
  if (!be) {
    *stale = 1;
    return XLB_CONTINUE;
  }
  if (now - conn->last_seen_ns > CONN_REFRESH_NS) conn->last_seen_ns = now;
  count(XLB_CNT_CONN_HIT);
  return send_to_backend(ctx, pkt, be, conn->backend, conn->vip_index, cfg,
                         conn->hash, SEND_ESTABLISHED);
}

static __always_inline __u32 vip_flow_hash(const struct xlb_packet *pkt,
                                           const struct xlb_vip_value *vip,
                                           const struct xlb_config *cfg) {
  return xlb_flow_hash(&pkt->flow, cfg->hash_seed,
                       !(vip->flags & XLB_VIP_F_HASH_NO_SRC_PORT));
}

/* The backend Maglev gives the flow with `hash` in *be_index and *be, or a
 * drop (counted) when the ring has none. */
static __always_inline int pick_backend(const struct xlb_vip_value *vip,
                                        __u32 hash, __u32 *be_index,
                                        struct xlb_backend **be) {
  *be_index = maglev_backend(vip, hash);
  if (*be_index == XLB_NO_BACKEND) return drop_no_backend(vip->index);
  *be = bpf_map_lookup_elem(&backends, be_index);
  if (!*be || (*be)->state == XLB_BACKEND_UNUSED)
    return finish(XDP_DROP, XLB_CNT_DROP_BAD_BACKEND);
  return XLB_CONTINUE;
}

/* A TCP SYN of `vip`: forwarded where Maglev points, without writing a
 * connection entry, so SYNs that never complete a handshake (a spoofed
 * flood) leave the table alone; the handshake's ACK writes the entry
 * (forward_new_flow). An entry naming another backend is left from an
 * earlier connection of the same 5-tuple and would send that ACK elsewhere:
 * it is deleted. SYNs above the VIP's syn_rate_limit are dropped first. */
static __always_inline int forward_syn(struct xdp_md *ctx,
                                       struct xlb_packet *pkt,
                                       const struct xlb_vip_value *vip) {
  struct xlb_config *cfg = get_config();
  if (!cfg || cfg->mtu == 0) return finish(XDP_DROP, XLB_CNT_DROP_NO_CONFIG);
  count(XLB_CNT_CONN_SYN);
  __u32 vip_index = vip->index;
  struct xlb_vip_stats *vs = bpf_map_lookup_elem(&vip_stats, &vip_index);
  if (vs) vs->syns += 1;
  if (vip->syn_rate_limit &&
      !syn_admit(vip_index, vip->syn_rate_limit, bpf_ktime_get_coarse_ns())) {
    if (vs) vs->syn_limit_drops += 1;
    return finish(XDP_DROP, XLB_CNT_DROP_SYN_RATE_LIMIT);
  }
  __u32 hash = vip_flow_hash(pkt, vip, cfg), be_index;
  struct xlb_backend *be;
  int action = pick_backend(vip, hash, &be_index, &be);
  if (action != XLB_CONTINUE) return action;
  struct xlb_conn *conn = bpf_map_lookup_elem(&conns, &pkt->flow);
  if (conn && conn->backend != be_index)
    bpf_map_delete_elem(&conns, &pkt->flow);
  return send_to_backend(ctx, pkt, be, be_index, vip_index, cfg, hash,
                         SEND_SYN);
}

/* A flow of `vip` without a trusted entry (a TCP packet without SYN, or
 * UDP): Maglev picks the backend, and the choice is remembered in the
 * connection table. */
static __always_inline int forward_new_flow(struct xdp_md *ctx,
                                            struct xlb_packet *pkt,
                                            const struct xlb_vip_value *vip,
                                            int stale) {
  struct xlb_config *cfg = get_config();
  if (!cfg || cfg->mtu == 0) return finish(XDP_DROP, XLB_CNT_DROP_NO_CONFIG);
  count(stale ? XLB_CNT_CONN_STALE : XLB_CNT_CONN_MISS);
  __u32 hash = vip_flow_hash(pkt, vip, cfg), be_index;
  struct xlb_backend *be;
  int action = pick_backend(vip, hash, &be_index, &be);
  if (action != XLB_CONTINUE) return action;
  struct xlb_conn conn = {.backend = be_index,
                          .generation = be->generation,
                          .vip_index = vip->index,
                          .hash = hash,
                          .last_seen_ns = bpf_ktime_get_coarse_ns()};
  bpf_map_update_elem(&conns, &pkt->flow, &conn, BPF_ANY);
  return send_to_backend(ctx, pkt, be, be_index, vip->index, cfg, hash,
                         SEND_NEW_FLOW);
}

/* An ICMP error about a flow of `vip` goes where the flow's packets go: its
 * trusted connection entry's backend, else Maglev's pick (no entry made). */
static __always_inline int forward_icmp_error(struct xdp_md *ctx,
                                              struct xlb_packet *pkt,
                                              const struct xlb_vip_value *vip) {
  struct xlb_config *cfg = get_config();
  if (!cfg || cfg->mtu == 0) return finish(XDP_DROP, XLB_CNT_DROP_NO_CONFIG);
  __u32 hash = vip_flow_hash(pkt, vip, cfg);
  struct xlb_conn *conn = bpf_map_lookup_elem(&conns, &pkt->flow);
  struct xlb_backend *be = 0;
  __u32 be_index = XLB_NO_BACKEND;
  if (conn) {
    be = conn_backend(conn, cfg, pkt->flow.proto, bpf_ktime_get_coarse_ns());
    be_index = conn->backend;
  }
  if (!be) {
    int action = pick_backend(vip, hash, &be_index, &be);
    if (action != XLB_CONTINUE) return action;
  }
  return send_to_backend(ctx, pkt, be, be_index, vip->index, cfg, hash,
                         SEND_ICMP_ERROR);
}

/* ICMP to a VIP address: echo requests answered where enabled, errors about
 * a VIP flow sent to that flow's backend, the rest left to the kernel. */
static __always_inline int handle_icmp(struct xdp_md *ctx,
                                       struct xlb_packet *pkt) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  int v4 = pkt->flow.family == XLB_FAMILY_V4;
  if (pkt->flow.proto != (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6))
    return finish(XDP_PASS, XLB_CNT_PASS_NOT_VIP);
  void *icmp = data + sizeof(struct ethhdr) + (v4 ? IPV4_HDR_LEN : IPV6_HDR_LEN);

  if (pkt->icmp_type == (v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) {
    struct xlb_vip_value *echo = lookup_vip(&pkt->flow, 0);
    if (!echo || !(echo->flags & XLB_VIP_F_ECHO))
      return finish(XDP_PASS, XLB_CNT_PASS_NOT_VIP);
    int action = v4 ? echo_reply_v4(data, data_end)
                    : echo_reply_v6(data, data_end);
    return finish(action, XLB_CNT_ICMP_ECHO_REPLY);
  }

  if (!(v4 ? icmp_is_error_v4(pkt->icmp_type)
           : icmp_is_error_v6(pkt->icmp_type)))
    return finish(XDP_PASS, XLB_CNT_PASS_NOT_VIP);
  void *quote = icmp + ICMP_HDR_LEN;
  int bad = v4 ? quoted_flow_v4(quote, data_end, &pkt->flow)
               : quoted_flow_v6(quote, data_end, &pkt->flow);
  if (bad) return finish(XDP_PASS, XLB_CNT_PASS_NOT_VIP);
  struct xlb_vip_value *vip = lookup_vip(&pkt->flow, pkt->flow.dport);
  if (!vip) return finish(XDP_PASS, XLB_CNT_PASS_NOT_VIP);
  return forward_icmp_error(ctx, pkt, vip);
}

SEC("xdp")
int xlb_balancer(struct xdp_md *ctx) {
  struct xlb_packet pkt = {};
  struct xlb_verdict v = parse_packet((void *)(long)ctx->data,
                                      (void *)(long)ctx->data_end, &pkt);
  if (v.action != XLB_CONTINUE) return finish(v.action, v.reason);

  if (pkt.flow.proto != IPPROTO_TCP && pkt.flow.proto != IPPROTO_UDP)
    return handle_icmp(ctx, &pkt);
  int stale = 0;
  if (!pkt.tcp_syn) {
    int action = forward_established(ctx, &pkt, &stale);
    if (action != XLB_CONTINUE) return action;
  }
  struct xlb_vip_value *vip = lookup_vip(&pkt.flow, pkt.flow.dport);
  if (!vip) return finish(XDP_PASS, XLB_CNT_PASS_NOT_VIP);
  if (pkt.tcp_syn) return forward_syn(ctx, &pkt, vip);
  return forward_new_flow(ctx, &pkt, vip, stale);
}

char LICENSE[] SEC("license") = "GPL";
