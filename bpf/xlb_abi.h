/* The xlb data-plane ABI: every map key and value, flag, counter index and
 * limit shared by the BPF programs and the C++ agent. Nothing else redefines
 * these. Addresses and ports are in network byte order; everything else is in
 * host byte order. Fixed-width types and explicit padding only: the C++ side
 * static_asserts every size. */
#ifndef XLB_ABI_H_
#define XLB_ABI_H_

#include <linux/types.h>

/* Address families as stored in keys and values. */
#define XLB_FAMILY_V4 4
#define XLB_FAMILY_V6 6

/* Default load-time sizes (each overridable when the data plane is created). */
#define XLB_DEFAULT_MAX_VIPS 512
#define XLB_DEFAULT_MAX_BACKENDS 4096
#define XLB_DEFAULT_MAX_CONNS (1u << 20)
#define XLB_DEFAULT_RING_SIZE 65537
/* Largest ring an inner map may hold (the largest supported Maglev prime). */
#define XLB_MAX_RING_SIZE 655373

/* Backend index 0 is never allocated: a ring slot holding 0 is "no backend". */
#define XLB_NO_BACKEND 0

/* vips: key {address, port, protocol, family}. A port-wildcard VIP has port 0.
 * An entry with protocol IPPROTO_ICMP / IPPROTO_ICMPV6 and port 0 marks an
 * address whose echo requests the balancer answers (XLB_VIP_F_ECHO). */
struct xlb_vip_key {
  __be32 addr[4]; /* IPv4 in addr[0], the rest zero */
  __be16 port;
  __u8 proto;
  __u8 family;
};

/* Hash the flow without its source port: all connections of one client
 * address reach the same backend. */
#define XLB_VIP_F_HASH_NO_SRC_PORT (1u << 0)
/* Answer ICMP/ICMPv6 echo requests to this address from XDP. */
#define XLB_VIP_F_ECHO (1u << 1)

struct xlb_vip_value {
  __u32 index;     /* into rings, vip_stats and syn_buckets */
  __u32 flags;     /* XLB_VIP_F_* */
  /* Entries in this VIP's ring. A VIP whose ring size changes gets a new
   * index, so the size and the ring it describes always change together. */
  __u32 ring_size;
  /* TCP SYNs per second the VIP admits; the excess is dropped. 0: no
   * limit. Each CPU admits its share (syn_buckets). Was padding: entries
   * written before it existed read 0. */
  __u32 syn_rate_limit;
};

/* backends: array, index -> backend. */
#define XLB_BACKEND_UNUSED 0
#define XLB_BACKEND_UP 1
#define XLB_BACKEND_DRAINING 2 /* keeps established flows, gets no new ones */
#define XLB_BACKEND_DOWN 3     /* established flows move on their next packet */

struct xlb_backend {
  __be32 addr[4]; /* outer destination; IPv4 in addr[0] */
  __u8 family;
  __u8 state; /* XLB_BACKEND_* */
  __u16 pad;
  /* Bumped every time the index is given to a new backend, so connection
   * entries made for the previous holder are never trusted. */
  __u32 generation;
};

/* conns: LRU hash shared by all CPUs (per-CPU LRU lists). */
struct xlb_flow {
  __be32 src[4];
  __be32 dst[4];
  __be16 sport;
  __be16 dport;
  __u8 proto;
  __u8 family;
  __u16 pad;
};

struct xlb_conn {
  __u32 backend;
  __u32 generation;    /* the backend's generation when the entry was made */
  __u32 vip_index;     /* the flow's VIP: established packets skip the VIP lookup */
  __u32 hash;          /* the flow hash: outer source and flow label */
  __u64 last_seen_ns;  /* bpf_ktime_get_coarse_ns() of the last packet */
};

/* config: array with one entry, written by the agent. */
struct xlb_config {
  __u8 iface_mac[6];   /* outer Ethernet source */
  __u8 gateway_mac[6]; /* outer Ethernet destination */
  /* Outer IPv4 source: src_v4 with its host bits (below src_v4_prefix_len)
   * taken from the flow hash. Prefix length 32 means exactly src_v4. */
  __be32 src_v4;
  __be32 src_v6[4];
  __u8 src_v4_prefix_len;
  __u8 src_v6_prefix_len;
  __u16 pad;
  /* Largest frame payload (IP packet) the egress link carries; an
   * encapsulated packet above it is answered with an ICMP "too big". */
  __u32 mtu;
  __u32 hash_seed;     /* flow hash seed: equal on every host behind one ECMP group */
  __u64 tcp_idle_timeout_ns;
  __u64 udp_idle_timeout_ns;
};

/* stats: per-CPU array indexed by reason. */
enum xlb_counter {
  XLB_CNT_RX = 0,               /* every packet seen */
  XLB_CNT_TX,                   /* encapsulated and sent to a backend */
  XLB_CNT_PASS_NON_IP,          /* ARP and other ethertypes */
  XLB_CNT_PASS_NOT_VIP,         /* IP but not for a VIP */
  XLB_CNT_PASS_IPV4_FRAGMENT,   /* IPv4 fragments are left to the kernel */
  XLB_CNT_PASS_IPV4_OPTIONS,    /* IPv4 with options is left to the kernel */
  XLB_CNT_PASS_IPV6_EXT_HDR,    /* IPv6 with extension headers is left to the kernel */
  XLB_CNT_DROP_MALFORMED,       /* truncated or inconsistent headers */
  XLB_CNT_DROP_NO_BACKEND,      /* VIP without a ring or with an empty slot */
  XLB_CNT_DROP_TOO_BIG,         /* too big after encapsulation, DF clear */
  XLB_CNT_DROP_NO_CONFIG,       /* config entry missing or incomplete */
  XLB_CNT_DROP_ADJUST_FAILED,   /* bpf_xdp_adjust_head/tail refused */
  XLB_CNT_DROP_BAD_BACKEND,     /* ring points at an unused backend entry */
  XLB_CNT_CONN_HIT,             /* connection table gave the backend */
  XLB_CNT_CONN_MISS,            /* no entry: picked by Maglev */
  XLB_CNT_CONN_STALE,           /* entry ignored: backend down, index reused or idle */
  XLB_CNT_CONN_SYN,             /* TCP SYN: picked by Maglev, no entry written */
  XLB_CNT_ICMP_ECHO_REPLY,      /* echo request to a VIP answered */
  XLB_CNT_ICMP_FRAG_NEEDED,     /* ICMP fragmentation-needed sent */
  XLB_CNT_ICMP6_TOO_BIG,        /* ICMPv6 packet-too-big sent */
  XLB_CNT_ICMP_ERROR_FORWARDED, /* ICMP error quoting a VIP flow sent to its backend */
  XLB_CNT_DROP_SYN_RATE_LIMIT,  /* TCP SYN above its VIP's syn_rate_limit */
  XLB_CNT_MAX,
};

/* vip_stats: per-CPU array indexed by VIP index. */
struct xlb_vip_stats {
  __u64 packets;
  __u64 bytes;
  __u64 new_flows;        /* connection entries written */
  __u64 no_backend_drops;
  __u64 syns;             /* TCP SYNs to the VIP, forwarded or dropped */
  __u64 syn_limit_drops;  /* TCP SYNs dropped by syn_rate_limit */
};

/* syn_buckets: per-CPU array indexed by VIP index; each CPU's token bucket
 * for its VIP's syn_rate_limit, kept as time credit. A SYN costs
 * (CPUs sharing the limit) * 1 s / syn_rate_limit of credit; credit grows
 * with the time elapsed and holds at most max(1 s, one SYN's cost), so a
 * CPU bursts at most its one-second share. */
struct xlb_syn_bucket {
  __u64 credit_ns;
  __u64 refilled_ns; /* bpf_ktime_get_coarse_ns() of the last refill */
};

/* backend_stats: per-CPU array indexed by backend index. */
struct xlb_backend_stats {
  __u64 packets;
  __u64 bytes;
};

/* Health probes: the agent sets SO_MARK = XLB_HC_MARK_TAG | backend index on a
 * probe socket; healthcheck.bpf.c encapsulates such packets to that backend. */
#define XLB_HC_MARK_TAG 0x58000000u
#define XLB_HC_MARK_TAG_MASK 0xff000000u
#define XLB_HC_MARK_INDEX_MASK 0x00ffffffu

/* hc_stats: per-CPU array of the health-probe encapsulation program. */
enum xlb_hc_counter {
  XLB_HC_CNT_ENCAPSULATED = 0,
  XLB_HC_CNT_DROP_UNKNOWN_BACKEND, /* mark names an unused backend entry */
  XLB_HC_CNT_DROP_NO_CONFIG,
  XLB_HC_CNT_DROP_ERROR,           /* the kernel refused to grow or write the packet */
  XLB_HC_CNT_MAX,
};

/* local_addrs (decap): hash of this host's tunnel endpoint addresses; outer
 * packets to one of them are decapsulated. Value: __u8, unused (1). */
struct xlb_local_addr {
  __be32 addr[4];
  __u8 family;
  __u8 pad[3];
};

/* decap_stats: per-CPU array indexed by reason. */
enum xlb_decap_counter {
  XLB_DECAP_CNT_RX = 0,
  XLB_DECAP_CNT_DECAPSULATED,
  XLB_DECAP_CNT_PASS,            /* not a tunnel packet for this host */
  XLB_DECAP_CNT_DROP_MALFORMED,  /* tunnel packet for this host, broken */
  XLB_DECAP_CNT_MAX,
};

#endif /* XLB_ABI_H_ */
