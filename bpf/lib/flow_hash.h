/* The flow hash: picks a flow's Maglev slot and its outer source address.
 * Plain C shared by the BPF programs and the C++ model, which must agree on
 * every bit (several hosts behind ECMP pick the same backend for a flow).
 * Changing it changes every flow's backend: the golden test pins it. */
#ifndef XLB_LIB_FLOW_HASH_H_
#define XLB_LIB_FLOW_HASH_H_

#include "xlb_abi.h"

#ifdef __cplusplus
#define XLB_INLINE inline
#else
#define XLB_INLINE static __always_inline
#endif

/* One MurmurHash3 (x86_32) block round. */
XLB_INLINE __u32 xlb_hash_mix(__u32 h, __u32 k) {
  k *= 0xcc9e2d51u;
  k = (k << 15) | (k >> 17);
  k *= 0x1b873593u;
  h ^= k;
  h = (h << 13) | (h >> 19);
  return h * 5 + 0xe6546b64u;
}

XLB_INLINE __u32 xlb_hash_final(__u32 h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* Addresses and ports enter as the bytes on the wire (read as native words),
 * so the C++ side must hand over network-order values exactly as stored. */
XLB_INLINE __u32 xlb_flow_hash(const struct xlb_flow *f, __u32 seed,
                               int with_src_port) {
  __u32 h = seed;
  h = xlb_hash_mix(h, f->src[0]);
  h = xlb_hash_mix(h, f->dst[0]);
  if (f->family == XLB_FAMILY_V6) {
    h = xlb_hash_mix(h, f->src[1]);
    h = xlb_hash_mix(h, f->src[2]);
    h = xlb_hash_mix(h, f->src[3]);
    h = xlb_hash_mix(h, f->dst[1]);
    h = xlb_hash_mix(h, f->dst[2]);
    h = xlb_hash_mix(h, f->dst[3]);
  }
  __u32 ports = ((__u32)(with_src_port ? f->sport : 0) << 16) | f->dport;
  h = xlb_hash_mix(h, ports);
  h = xlb_hash_mix(h, f->proto);
  return xlb_hash_final(h);
}

/* Maps a hash onto [0, ring_size) without a division. */
XLB_INLINE __u32 xlb_ring_slot(__u32 hash, __u32 ring_size) {
  return (__u32)(((__u64)hash * ring_size) >> 32);
}

#endif /* XLB_LIB_FLOW_HASH_H_ */
