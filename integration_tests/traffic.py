#!/usr/bin/env python3
"""Lab client traffic, run inside the client namespace. Every mode is
bounded in count and time and prints one JSON object on stdout.

  traffic.py http VIP PORT --count N [--record]
                                            N connections, one GET each
                                            (--record: list each one's
                                            source port and backend)
  traffic.py udp VIP PORT --count N         N datagrams from fresh sockets
  traffic.py load VIP PORT --seconds S --max N
                                            GETs back to back until S seconds
                                            or N requests
  traffic.py hold VIP PORT --seconds S      one GET the server holds S seconds
  traffic.py bulk VIP PORT --bytes B        one POST of B bytes
  traffic.py session VIP PORT --count N --seconds S
                                            one keep-alive connection, N GETs
                                            spread over S seconds (stickiness);
                                            prints the first answer on a line
                                            of its own as soon as it has it
  traffic.py flows VIP PORT --count N --seconds S [--interval I]
                                            N keep-alive connections at once,
                                            each a GET every I seconds (0.1)
                                            for S seconds (or until a line
                                            "stop" on stdin); prints "ready"
                                            once all have an answer; reports
                                            per connection its backends and
                                            its longest time without an answer

Results count the backend names the servers answer with; every failure is
counted with its reason, never retried away.
"""
import argparse
import collections
import json
import socket
import sys
import threading
import time


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def http_request(vip, port, request, timeout, ports=None):
    with socket.socket(family_of(vip), socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((vip, port))
        s.sendall(request)
        body = read_response(s)
        if ports is not None:
            ports.append([s.getsockname()[1], body])
        return body


def get_request(vip, path="/", close=True):
    host = f"[{vip}]" if ":" in vip else vip
    connection = "close" if close else "keep-alive"
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Connection: {connection}\r\n\r\n").encode()


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response header")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise ConnectionError(f"HTTP status {status.decode()}")
    return body.decode().strip()


def get(vip, port, path="/", timeout=3.0, ports=None):
    return http_request(vip, port, get_request(vip, path), timeout, ports)


def record(results, failures, fn):
    try:
        results[fn()] += 1
    except (OSError, ConnectionError) as e:
        failures[type(e).__name__ + ": " + str(e)[:80]] += 1


class Flow:
    """One keep-alive connection sending a GET every `interval` seconds."""

    # A gap this many intervals long is reported with its start and end.
    REPORTED_GAP = 2.5

    def __init__(self, vip, port, interval):
        self.vip, self.port, self.interval = vip, port, interval
        self.backends = collections.Counter()
        self.failure = None
        self.longest_gap = 0.0
        self.gaps = []
        self.answered = threading.Event()

    def run(self, deadline, max_requests):
        try:
            with socket.socket(family_of(self.vip), socket.SOCK_STREAM) as s:
                # Long enough to ride out a convergence (TCP retransmits),
                # short enough to bound the run.
                s.settimeout(10.0)
                s.connect((self.vip, self.port))
                last = None
                for _ in range(max_requests):
                    sent = time.monotonic()
                    s.sendall(get_request(self.vip, close=False))
                    self.backends[read_response(s)] += 1
                    now = time.monotonic()
                    if last is not None:
                        gap = now - last
                        self.longest_gap = max(self.longest_gap, gap)
                        if gap > self.REPORTED_GAP * self.interval:
                            self.gaps.append([round(last, 4), round(now, 4)])
                    last = now
                    self.answered.set()
                    if deadline[0] is not None and now >= deadline[0]:
                        break
                    time.sleep(max(0.0, sent + self.interval - time.monotonic()))
        except (OSError, ConnectionError) as e:
            self.failure = type(e).__name__ + ": " + str(e)[:80]
        finally:
            self.answered.set()


def flows(vip, port, count, seconds, interval):
    """`count` connections at once, each a GET every `interval` for
    `seconds` after all have answered once."""
    deadline = [None]
    max_requests = int((seconds + 30) / interval)
    all_flows = [Flow(vip, port, interval) for _ in range(count)]
    threads = [threading.Thread(target=f.run, args=(deadline, max_requests))
               for f in all_flows]
    for t in threads:
        t.start()
    for f in all_flows:
        f.answered.wait(timeout=30)
    print("ready", flush=True)
    deadline[0] = time.monotonic() + seconds

    def stop_on_request():
        for line in sys.stdin:
            if line.strip() == "stop":
                deadline[0] = min(deadline[0], time.monotonic())
                return
    threading.Thread(target=stop_on_request, daemon=True).start()
    for t in threads:
        t.join(timeout=seconds + 60)
    backends, failures = collections.Counter(), collections.Counter()
    for f in all_flows:
        for name in f.backends:
            backends[name] += 1
        if f.failure:
            failures[f.failure] += 1
    return {"connections": count,
            "requests": sum(sum(f.backends.values()) for f in all_flows),
            "backends": dict(backends), "failures": dict(failures),
            "moved": sum(1 for f in all_flows if len(f.backends) > 1),
            "longest_gaps": sorted(round(f.longest_gap, 4) for f in all_flows),
            "gaps": sorted(g for f in all_flows for g in f.gaps)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode",
                        choices=["http", "udp", "load", "hold", "bulk", "session",
                                 "flows"])
    parser.add_argument("vip")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max", type=int, default=100000)
    parser.add_argument("--bytes", type=int, default=1000000)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    results = collections.Counter()
    failures = collections.Counter()
    started = time.monotonic()
    ports = [] if args.record else None
    if args.mode == "http":
        for _ in range(args.count):
            record(results, failures,
                   lambda: get(args.vip, args.port, ports=ports))
    elif args.mode == "udp":
        for i in range(args.count):
            def exchange():
                with socket.socket(family_of(args.vip), socket.SOCK_DGRAM) as s:
                    s.settimeout(2.0)
                    s.sendto(f"probe{i}".encode(), (args.vip, args.port))
                    data, peer = s.recvfrom(2048)
                    if peer[0] != args.vip:
                        raise ConnectionError(f"reply from {peer[0]}, not the VIP")
                    return data.decode().split(" ")[0]
            record(results, failures, exchange)
    elif args.mode == "load":
        deadline = started + args.seconds
        n = 0
        while time.monotonic() < deadline and n < args.max:
            record(results, failures, lambda: get(args.vip, args.port))
            n += 1
    elif args.mode == "hold":
        record(results, failures, lambda: get(
            args.vip, args.port, f"/hold?seconds={args.seconds}",
            timeout=args.seconds + 5))
    elif args.mode == "bulk":
        host = f"[{args.vip}]" if ":" in args.vip else args.vip
        body = b"x" * args.bytes
        request = (f"POST / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        record(results, failures,
               lambda: http_request(args.vip, args.port, request, 20.0))
    elif args.mode == "session":
        sequence = []
        try:
            with socket.socket(family_of(args.vip), socket.SOCK_STREAM) as s:
                s.settimeout(5.0)
                s.connect((args.vip, args.port))
                for _ in range(args.count):
                    s.sendall(get_request(args.vip, close=False))
                    sequence.append(read_response(s))
                    results[sequence[-1]] += 1
                    if len(sequence) == 1:
                        print(sequence[0], flush=True)
                    time.sleep(args.seconds / max(args.count, 1))
        except (OSError, ConnectionError) as e:
            failures[type(e).__name__ + ": " + str(e)[:80]] += 1
        json.dump({"backends": dict(results), "failures": dict(failures),
                   "sequence": sequence,
                   "seconds": round(time.monotonic() - started, 3)}, sys.stdout)
        print()
        return
    elif args.mode == "flows":
        result = flows(args.vip, args.port, args.count, args.seconds,
                       args.interval)
        result["seconds"] = round(time.monotonic() - started, 3)
        json.dump(result, sys.stdout)
        print()
        return
    result = {"backends": dict(results), "failures": dict(failures),
              "seconds": round(time.monotonic() - started, 3)}
    if ports is not None:
        result["flows"] = ports
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
