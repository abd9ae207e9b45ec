/* The per-VIP TCP SYN rate limit: a token bucket per VIP and CPU, kept as
 * time credit (struct xlb_syn_bucket). Per-CPU buckets need no atomics and
 * share no cache line between CPUs, which is what a flood spread over the
 * receive queues would otherwise contend on. Each CPU admits 1/syn_limit_cpus
 * of the VIP's limit. */
#ifndef XLB_LIB_SYN_LIMIT_H_
#define XLB_LIB_SYN_LIMIT_H_

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xlb_abi.h"

#define NSEC_PER_SEC 1000000000ull

/* CPUs the limit is shared over: set by the loader (the CPUs online) before
 * the program is loaded. */
const volatile __u32 syn_limit_cpus = 1;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XLB_DEFAULT_MAX_VIPS);
  __type(key, __u32);
  __type(value, struct xlb_syn_bucket);
} syn_buckets SEC(".maps");

/* Whether this CPU admits one more SYN of VIP `vip_index` under `limit`
 * (SYNs per second, > 0) at time `now`, taking its cost if so. A clock
 * reading before the last refill adds nothing. */
static __always_inline int syn_admit(__u32 vip_index, __u32 limit, __u64 now) {
  struct xlb_syn_bucket *b = bpf_map_lookup_elem(&syn_buckets, &vip_index);
  if (!b) return 1;
  __u64 cost = (__u64)syn_limit_cpus * NSEC_PER_SEC / limit;
  __u64 cap = cost > NSEC_PER_SEC ? cost : NSEC_PER_SEC;
  __u64 credit = b->credit_ns;
  if (now > b->refilled_ns) {
    credit += now - b->refilled_ns;
    if (credit > cap) credit = cap;
    b->refilled_ns = now;
  }
  if (credit < cost) {
    b->credit_ns = credit;
    return 0;
  }
  b->credit_ns = credit - cost;
  return 1;
}

#endif /* XLB_LIB_SYN_LIMIT_H_ */
