#!/usr/bin/env python3
"""Turns the benchmarks' machine-readable output into BENCHMARKS.md.

Called by tools/bench/run; every input but --machine and --command is
optional, and a missing one (a benchmark that failed) becomes a row that
says "not measured".
"""
import argparse
import json
import os
import re

# Issue targets: ns above the XDP_TX baseline (median), and Maglev build time.
DATAPLANE_TARGETS = {"ipv4_syn": 120, "ipv4_established": 80,
                     "ipv6_established": 80}
MAGLEV_TARGET_US = {("BM_BuildEqualWeights", 65537, 1000): 1000.0}

SCENARIOS = [
    ("ipv4_syn", "IPv4 TCP SYN (forwarded by the ring, no entry written)"),
    ("ipv4_syn_rate_limited", "IPv4 TCP SYN, VIP with a SYN rate limit (admitted)"),
    ("ipv4_syn_over_limit", "IPv4 TCP SYN over its VIP's SYN rate limit (dropped)"),
    ("ipv4_established", "IPv4 TCP established (conn hit)"),
    ("udp_established", "IPv4 UDP, flow in the conn table"),
    ("ipv6_established", "IPv6 TCP established (conn hit)"),
    ("ipv4_in_ipv6_established", "IPv4 in IPv6 (IPv6 backend), established"),
    ("non_vip_pass", "not for a VIP: XDP_PASS"),
    ("ipv4_frag_needed", "1500-byte IPv4 with DF: ICMP frag needed sent"),
    ("ipv6_packet_too_big", "1500-byte IPv6: ICMPv6 packet too big sent"),
    ("ipv4_handshake_ack", "TCP ACK completing a handshake (writes the entry)"),
    ("conn_miss_table_full", "TCP non-SYN, no entry, table full (LRU evicts)"),
]
VARIANTS = [("1vip", "1 VIP"), ("100vips", "100 VIPs"),
            ("1000vips", "1,000 VIPs"), ("1mconns", "10^6 conns")]


def load_json(path):
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # JSON lines
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_dataplane(paths):
    """dataplane_bench outputs (one per variant, or one for all) as one."""
    runs = [d for d in (load_json(p) for p in paths or []) if d]
    if not runs:
        return None
    merged = dict(runs[0])
    merged["results"] = [r for d in runs for r in d["results"]]
    return merged


def above(r):
    return r["median_ns"] - r["baseline_median_ns"]


def dataplane_section(d, before=None, before_rev=None):
    out = ["## Data plane (BPF_PROG_TEST_RUN)", ""]
    if not d:
        return out + ["Not measured (dataplane_bench failed or did not run).", ""]
    loads = d.get("loads", 1)
    out += [
        f"Kernel-measured `opts.duration` of single runs (`repeat = 1`, a fresh "
        f"copy of the original frame each run), {d['samples']} samples per row "
        f"({loads} fresh loads of the data plane, each after {d['warmup']} "
        f"warm-up runs), pinned to CPU {d['cpu']}. The "
        f"baseline (`xlb_tx_baseline`: swap MACs, `XDP_TX`) runs the same frame "
        f"interleaved with the balancer (ABBA). \"Above\" = balancer median − "
        f"baseline median; ratio = balancer median / baseline median. "
        f"Timestamps have a resolution of about 10 ns here.", "",
        f"Program size: balancer {d['balancer_prog']['xlated_insns']} xlated "
        f"instructions ({d['balancer_prog']['jited_bytes']} bytes JITed), "
        f"baseline {d['baseline_prog']['xlated_insns']}.", ""]
    rows = {(r["variant"], r["scenario"]): r for r in d["results"]}
    old = {(r["variant"], r["scenario"]): r
           for r in (before or {}).get("results", [])}
    if before:
        out += [f"\"Before\": the same benchmark built from commit "
                f"`{before_rev}` and run in this same run, variant by variant "
                f"in turn with this commit's (ns above its own baseline "
                f"runs; a path it did not have is blank).", ""]

    out += ["### 1 VIP, empty connection table", "",
            "| path | median ns | p90 ns | baseline median / p90 ns | "
            "above baseline ns | " + ("before: above ns | change ns | " if before else "") +
            "ratio | target (above) | check |",
            "| --- | ---: | ---: | ---: | ---: | " + ("---: | ---: | " if before else "") +
            "---: | --- | --- |"]
    for key, label in SCENARIOS:
        r = rows.get(("1vip", key))
        if not r:
            continue
        a = above(r)
        ratio = r["median_ns"] / r["baseline_median_ns"] if r["baseline_median_ns"] else 0
        target = DATAPLANE_TARGETS.get(key)
        t = "" if target is None else (
            f"≤ {target}: **met**" if a <= target else f"≤ {target}: **missed**")
        was = ""
        if before:
            o = old.get(("1vip", key))
            was = (f"{above(o):.0f} | {a - above(o):+.0f} | " if o else " | | ")
        out.append(
            f"| {label} | {r['median_ns']:.0f} | {r['p90_ns']:.0f} | "
            f"{r['baseline_median_ns']:.0f} / {r['baseline_p90_ns']:.0f} | "
            f"{a:.0f} | {was}{ratio:.2f} | {t} | {r['check']} |")
    out.append("")

    present = [(v, label) for v, label in VARIANTS
               if any(k[0] == v for k in rows)]
    out += ["### Scale: ns above the baseline (median; p90 of the balancer in "
            "parentheses" + ("; \"was\": before" if before else "") +
            ")", "",
            "100 / 1,000 VIPs: that many entries in `vips`, each with its own "
            "65537-entry ring. 10^6 conns: 10^6 entries prefilled with "
            "`bpf_map_update_batch`, spread over the CPUs' LRU lists.", "",
            "| path | " + " | ".join(l for _, l in present) + " |",
            "| --- | " + " | ".join("---:" for _ in present) + " |"]
    for key, label in SCENARIOS:
        cells = []
        for v, _ in present:
            r = rows.get((v, key))
            if not r:
                cells.append("–")
                continue
            flag = "" if r["check"] == "ok" else " ⚠"
            o = old.get((v, key))
            was = f"; was {above(o):.0f}" if o else ""
            cells.append(f"{above(r):.0f} ({r['p90_ns']:.0f}){was}{flag}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    bad = [r for r in d["results"] if r["check"] != "ok"]
    out.append("")
    if bad:
        out += ["Failed checks: " + "; ".join(
            f"{r['variant']}/{r['scenario']}: {r['check']}" for r in bad), ""]
    return out


def syn_flood_section(d):
    out = ["## SYN flood against established flows (`tools/bench/syn_flood`)", ""]
    if not d:
        return out + ["Not measured (syn_flood failed or did not run).", ""]
    out += [f"{d['established']:,} established flows (each wrote its entry "
            f"with its first packet without SYN), then {d['syns']:,} SYNs from "
            f"as many spoofed sources, spread over the CPUs, through "
            f"BPF_PROG_TEST_RUN into a connection table of "
            f"{d['conn_capacity']:,} entries; then the ring changes (a new "
            f"backend takes 1/11 of the slots) and every established flow "
            f"sends a packet (method: bpf/tests/syn_flood.h).", "",
            "| SYNs | established flows | entries evicted | flows moved by the "
            "ring change | flows misrouted after it | SYNs forwarded | flood time |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {d['syns']:,} | {d['established']:,} | {d['evicted']:,} | "
            f"{d['moved_by_ring_change']:,} | {d['misrouted']:,} | "
            f"{d['syns_forwarded']:,} | {d['flood_seconds']:.0f} s |", ""]
    return out


def gbench_rows(d):
    rows = []
    for b in (d or {}).get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        rows.append(b)
    return rows


def maglev_section(d):
    out = ["## Maglev table build (`lb/maglev_bench`)", ""]
    rows = gbench_rows(d)
    if not rows:
        return out + ["Not measured (maglev_bench failed or did not run).", ""]
    out += ["Median of 5 repetitions. The target is checked against CPU time: on a shared VM, wall time also counts time the thread was preempted.", "",
            "| benchmark | M | N | time (µs, wall) | CPU (µs) | target |",
            "| --- | ---: | ---: | ---: | ---: | --- |"]
    for b in rows:
        name = b.get("run_name", b["name"])
        parts = dict(p.split(":") for p in name.split("/")[1:] if ":" in p)
        m, n = int(parts.get("M", 0)), int(parts.get("N", 0))
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        real, cpu = b["real_time"] * scale, b["cpu_time"] * scale
        target = MAGLEV_TARGET_US.get((name.split("/")[0], m, n))
        t = "" if target is None else (
            f"≤ {target:.0f} µs CPU: **{'met' if cpu <= target else 'missed'}**")
        out.append(f"| {name.split('/')[0]} | {m} | {n} | {real:.0f} | {cpu:.0f} | {t} |")
    return out + [""]


def generic_section(title, d, raw_path, missing):
    out = [f"## {title}", ""]
    rows = gbench_rows(d) if isinstance(d, dict) else []
    if rows:
        counters = sorted({k for b in rows for k in b
                           if k not in ("name", "run_name", "run_type", "repetitions",
                                        "repetition_index", "threads", "iterations",
                                        "real_time", "cpu_time", "time_unit",
                                        "family_index", "per_family_instance_index",
                                        "aggregate_name", "aggregate_unit", "label")})
        out += ["| benchmark | time | CPU | " + " | ".join(counters) + " |",
                "| --- | ---: | ---: | " + " | ".join("---:" for _ in counters) + " |"]
        for b in rows:
            u = b.get("time_unit", "ns")
            cells = [f"{b.get(c, ''):.4g}" if isinstance(b.get(c), float) else str(b.get(c, ""))
                     for c in counters]
            out.append(f"| {b['name']} | {b['real_time']:.4g} {u} | "
                       f"{b['cpu_time']:.4g} {u} | " + " | ".join(cells) + " |")
        return out + [""]
    if raw_path and os.path.exists(raw_path) and os.path.getsize(raw_path) > 0:
        with open(raw_path) as f:
            return out + ["```", f.read().rstrip(), "```", ""]
    return out + ["| measurement | result |", "| --- | --- |",
                  f"| {missing} | **not measured** (the benchmark failed) |", ""]


def health_section(path):
    out = ["## Health checks: CPU share of one core (1 s interval)", ""]
    lines = []
    if path and os.path.exists(path):
        lines = [l for l in open(path).read().splitlines() if "targets=" in l]
    if not lines:
        return out + ["| measurement | result |", "| --- | --- |",
                      "| CPU share at 1k and 10k backends | **not measured** (health_bench absent or failed) |", ""]
    out += ["`lb/health/health_bench`: TCP checks (half-open: SYN, SYN-ACK, "
            "RST, all from the checker's raw socket), every target once a second, "
            "direct or tunnelled (marked; nothing here encapsulates them), "
            "to N listeners in a separate network namespace behind a veth "
            "pair; checker pinned to CPU 1, listeners and (by RPS) their receive "
            "processing to CPU 0, so CPU 1 does only the LB host's work (cross-CPU "
            "interrupts included); checker thread and CPU 1 softirq time as a "
            "share of one core (method: docs/benchmarks.md).", "",
            "| backends | probe | mode | probes | probes/s | failures | checker thread CPU "
            "| checker CPU softirq | whole process CPU |",
            "| ---: | --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for l in lines:
        kv = dict(re.findall(r"([\w/-]+)=(\S+)", l))
        detail = re.search(r"checker-thread-cpu=\S+ (\([^)]*\))", l)
        kinds = re.search(r"failures=\d+ (\([^)]*\))", l)
        out.append(f"| {kv.get('targets', '?')} | {l.split()[0]} | {kv.get('mode', 'loopback')} | "
                   f"{kv.get('probes', 'direct')} | "
                   f"{kv.get('probes/s', '?')} | {kv.get('failures', '?')}"
                   f"{' ' + kinds.group(1) if kinds else ''} | "
                   f"{kv.get('checker-thread-cpu', '?')}"
                   f"{' ' + detail.group(1) if detail else ''} | "
                   f"{kv.get('checker-cpu-softirq', '–')} | {kv.get('process-cpu', '?')} |")
    return out + [""]


MEMORY_BUDGET_MB = 50  # DESIGN.md "Budgets"
MEMORY_CASES = [
    ("idle", "idle, no configuration"),
    ("checked", "100 VIPs × 100 backends, TCP checks every 1 s (all down: no rings)"),
    ("rings", "100 VIPs × 100 backends, no checks (all up: 100 rings of 65537)"),
]


def memory_section(path):
    out = ["## xlbd resident memory (`tools/bench/memory`)", ""]
    lines = []
    if path and os.path.exists(path):
        lines = [l for l in open(path) if l.startswith("memory case=")]
    out += ["A real xlbd (`--max-backends 16384`) on a lab's LB host, one fresh "
            "process per case; VmRSS and VmHWM from /proc after the configuration "
            f"is applied and probes ran for a few seconds. Budget: under "
            f"{MEMORY_BUDGET_MB} MB resident (DESIGN.md).", "",
            "| case | VmRSS | VmHWM (peak) | budget |", "| --- | ---: | ---: | --- |"]
    by_case = {}
    for l in lines:
        kv = dict(re.findall(r"([\w/-]+)=(\S+)", l))
        by_case[kv.get("case")] = kv
    for case, label in MEMORY_CASES:
        kv = by_case.get(case)
        if kv is None:
            out.append(f"| {label} | **not measured** | | |")
            continue
        rss, hwm = int(kv["rss_kb"]) / 1024, int(kv["hwm_kb"]) / 1024
        verdict = "met" if rss < MEMORY_BUDGET_MB else "**missed**"
        out.append(f"| {label} | {rss:.1f} MB | {hwm:.1f} MB | {verdict} |")
    return out + [""]


def e2e_section(d):
    out = ["## End to end (lab, veth)", ""]
    if not d:
        return out + ["| mode | result |", "| --- | --- |",
                      "| XDP vs kernel forwarding | **not measured** (e2e failed or was skipped) |", ""]
    runs = d if isinstance(d, list) else [d]
    out += ["Small UDP datagrams (18-byte payload, 16 flows) sent with `sendmmsg` "
            "from the lab's client namespace to the VIP, counted at the backends "
            "by their decap program's `rx` counter. Path in both modes: client → "
            "router → LB → router → backend. veth on this VM bounds the absolute "
            "numbers: every hop (sender included) shares the same CPUs, so this "
            "compares the two LB modes, not what a NIC would do.", "",
            "| LB mode | sent | send rate (pps) | received at backends | received pps |",
            "| --- | ---: | ---: | ---: | ---: |"]
    names = {"xdp": "xlb XDP (IP-in-IP, XDP_TX)", "kernel": "kernel forwarding (ip_forward)"}
    for r in runs:
        out.append(f"| {names.get(r['mode'], r['mode'])} | {r['sent']} | "
                   f"{r['sent_pps']:.0f} | {r['received']} | {r['received_pps']:.0f} |")
    return out + [""]


# (figure, what it is) in the order the scale-out table shows them.
SCALE_OUT_ROWS = [
    ("announce_to_route_s", "VIP added on a host (`xlbctl vip add`) → its next hop in the router's route"),
    ("withdraw_to_route_gone_s", "VIP deleted on a host (`xlbctl vip del`) → its next hop gone"),
    ("last_backend_down_to_route_gone_s", "last healthy backend stops (HTTP check every 200 ms, fall 2) → route gone"),
    ("drain_to_route_gone_s", "`xlbctl host drain` → the host's next hop gone"),
    ("undrain_to_route_s", "`xlbctl host undrain` → back"),
    ("host_lost_xdp_to_route_gone_s", "host dies (gobgpd and xlbd SIGKILLed, XDP program gone) → its next hop gone"),
    ("host_lost_xdp_to_bgp_withdrawn_s", "… → its path gone from the router's BGP daemon"),
    ("host_lost_xdp_to_traffic_restored_s", "… → every stalled connection answers again"),
    ("host_lost_link_to_route_gone_s", "host dies (its link goes down, gobgpd and xlbd SIGKILLed) → its next hop unused"),
    ("host_lost_link_to_bgp_withdrawn_s", "… → its path gone from the router's BGP daemon"),
    ("host_lost_link_to_traffic_restored_s", "… → every stalled connection answers again"),
    ("host_joined_to_route_s", "dead host back (gobgpd, then a fresh xlbd started) → its next hop in the route"),
    ("host_joined_to_traffic_restored_s", "… → every stalled connection answers again"),
    ("bgp_daemon_restart_to_route_s", "gobgpd restarted on a host → xlbd re-announced, next hop back"),
    ("bgp_daemon_appeared_to_route_s", "gobgpd started after xlbd (absent at xlbd's start) → next hop in the route"),
]
GAP_ROWS = [
    ("host_lost_xdp_longest_gap_per_connection_s", "host dies, XDP program gone"),
    ("host_lost_link_longest_gap_per_connection_s", "host dies, link down"),
]
GAP_BUCKETS = [0.15, 0.25, 0.5, 1.0, 3.0]


def gap_bucket_labels():
    bounds = [b * 1000 for b in GAP_BUCKETS]
    return ([f"≤ {bounds[0]:.0f} ms"] +
            [f"{lo:.0f}–{hi:.0f} ms" for lo, hi in zip(bounds, bounds[1:])] +
            [f"> {bounds[-1]:.0f} ms"])


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def ms(seconds):
    return f"{seconds * 1000:.0f}"


def scale_out_section(d):
    out = ["## Scale-out convergence (lab: 3 LB hosts, BGP, ECMP)", ""]
    if not d or not d.get("figures"):
        return out + ["| measurement | result |", "| --- | --- |",
                      "| announce, withdraw, host lost and joined | **not measured** "
                      "(scale_out failed or was skipped) |", ""]
    f = d["figures"]
    out += [f"`tools/bench/scale_out`: the end-to-end scale-out test run with every "
            f"measured cycle run {d['rounds']} time(s). {d['hosts']} LB hosts, each "
            f"xlbd announcing through its own gobgpd to a bird2 router that installs one "
            f"ECMP route (5-tuple hash); times from the action to the router's kernel "
            f"route (`ip monitor`), and for connections from the action to the last "
            f"answer of a connection that stalled ({d['connections']} keep-alive "
            f"connections, one request every 100 ms each). Method: docs/benchmarks.md.", ""]
    if not d.get("tests_passed", True):
        out += ["**The scale-out tests failed in this run**: the figures are those "
                "measured before the failure.", ""]
    out += ["| measurement | samples | median ms | p90 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for key, label in SCALE_OUT_ROWS:
        v = f.get(key)
        if not v:
            out.append(f"| {label} | **not measured** | | | |")
            continue
        out.append(f"| {label} | {len(v)} | {ms(percentile(v, 50))} | "
                   f"{ms(percentile(v, 90))} | {ms(max(v))} |")
    out += ["", "Longest time without an answer, per connection, over a host's "
            "death and return (a request every 100 ms: 100 ms is no stall):", "",
            "| event | connections | median ms | p90 ms | p99 ms | max ms | " +
            " | ".join(gap_bucket_labels()) + " |",
            "| --- | ---: | ---: | ---: | ---: | ---: | " +
            " | ".join("---:" for _ in GAP_BUCKETS) + " | ---: |"]
    for key, label in GAP_ROWS:
        v = f.get(key)
        if not v:
            out.append(f"| {label} | **not measured** |" + " |" * (4 + len(GAP_BUCKETS) + 1))
            continue
        counts, low = [], 0.0
        for b in GAP_BUCKETS:
            counts.append(sum(1 for x in v if low < x <= b))
            low = b
        counts.append(sum(1 for x in v if x > GAP_BUCKETS[-1]))
        out.append(f"| {label} | {len(v)} | {ms(percentile(v, 50))} | "
                   f"{ms(percentile(v, 90))} | {ms(percentile(v, 99))} | {ms(max(v))} | " +
                   " | ".join(str(c) for c in counts) + " |")
    return out + [""]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--machine", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--dataplane", nargs="*")
    p.add_argument("--dataplane-before", nargs="*")
    p.add_argument("--before-rev")
    p.add_argument("--syn-flood")
    p.add_argument("--maglev")
    p.add_argument("--api")
    p.add_argument("--health")
    p.add_argument("--memory")
    p.add_argument("--e2e")
    p.add_argument("--scale-out")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    machine = load_json(a.machine)
    out = ["# xlb benchmarks", "",
           "Generated by `tools/bench/run`; method and what each number means: "
           "[docs/benchmarks.md](docs/benchmarks.md). Do not edit by hand.", "",
           "| | |", "| --- | --- |",
           f"| command | `{a.command}` |",
           f"| date | {machine['date']} |",
           f"| commit | {machine['commit']} |",
           f"| CPU | {machine['cpu']} |",
           f"| cores | {machine['cores']} |",
           f"| kernel | {machine['kernel']} |", ""]
    out += dataplane_section(load_dataplane(a.dataplane),
                             load_dataplane(a.dataplane_before), a.before_rev)
    out += syn_flood_section(load_json(a.syn_flood))
    out += maglev_section(load_json(a.maglev))
    out += generic_section(
        "Control plane: backend changes per second (gRPC API → maps)",
        load_json(a.api) if a.api and a.api.endswith(".json") else None, a.api,
        "backend changes/s through the gRPC API, batched and single (on one "
        "VIP and with 100 VIPs x 100 backends loaded), and health transitions "
        "(api_bench absent or failed)")
    out += health_section(a.health)
    out += memory_section(a.memory)
    out += e2e_section(load_json(a.e2e))
    out += scale_out_section(load_json(a.scale_out))
    with open(a.out, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
