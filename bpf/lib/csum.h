/* Internet checksum helpers (RFC 1071, incremental update per RFC 1624). */
#ifndef XLB_LIB_CSUM_H_
#define XLB_LIB_CSUM_H_

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__u64 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

/* Adds `words` 16-bit words at p (a compile-time constant count, so the loop
 * unrolls and every access is bounds-proven by the caller's single check). */
static __always_inline __u64 csum_add_words(const void *p, int words,
                                            __u64 sum) {
  const __u16 *w = p;
#pragma unroll
  for (int i = 0; i < words; i++) sum += w[i];
  return sum;
}

static __always_inline __u16 ipv4_header_csum(const void *iph) {
  return csum_fold(csum_add_words(iph, 10, 0));
}

/* Updates a checksum for one 16-bit word changing from `from` to `to`. */
static __always_inline void csum_replace16(__u16 *csum, __u16 from, __u16 to) {
  __u64 sum = (__u16)~*csum;
  sum += (__u16)~from;
  sum += to;
  *csum = csum_fold(sum);
}

#endif /* XLB_LIB_CSUM_H_ */
