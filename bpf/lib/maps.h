/* Maps shared by the balancer and the health-probe encapsulation program.
 * Sizes here are defaults: lb/dataplane/dataplane.cc sets the real ones before load. */
#ifndef XLB_LIB_MAPS_H_
#define XLB_LIB_MAPS_H_

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xlb_abi.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XLB_DEFAULT_MAX_BACKENDS);
  __type(key, __u32);
  __type(value, struct xlb_backend);
} backends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xlb_config);
} config SEC(".maps");

static __always_inline struct xlb_config *get_config(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&config, &zero);
}

#endif /* XLB_LIB_MAPS_H_ */
