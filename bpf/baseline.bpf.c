/* Reference programs. xlb_tx_baseline swaps the Ethernet addresses and
 * returns XDP_TX: the cheapest forwarding program, the baseline benchmarks
 * subtract. xlb_pass returns XDP_PASS: attached to the veth peer that receives
 * the balancer's XDP_TX frames in the lab, which the kernel only delivers
 * promptly when the peer has an XDP program. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xlb_tx_baseline(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_DROP;
  __u8 tmp[ETH_ALEN];
  __builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
  return XDP_TX;
}

SEC("xdp")
int xlb_pass(struct xdp_md *ctx) { return XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
