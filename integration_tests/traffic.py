#!/usr/bin/env python3
"""Lab client traffic, run inside the client namespace. Every mode is
bounded in count and time and prints one JSON object on stdout.

  traffic.py http VIP PORT --count N        N connections, one GET each
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

Results count the backend names the servers answer with; every failure is
counted with its reason, never retried away.
"""
import argparse
import collections
import json
import socket
import sys
import time


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def http_request(vip, port, request, timeout):
    with socket.socket(family_of(vip), socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((vip, port))
        s.sendall(request)
        return read_response(s)


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


def get(vip, port, path="/", timeout=3.0):
    return http_request(vip, port, get_request(vip, path), timeout)


def record(results, failures, fn):
    try:
        results[fn()] += 1
    except (OSError, ConnectionError) as e:
        failures[type(e).__name__ + ": " + str(e)[:80]] += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode",
                        choices=["http", "udp", "load", "hold", "bulk", "session"])
    parser.add_argument("vip")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max", type=int, default=100000)
    parser.add_argument("--bytes", type=int, default=1000000)
    args = parser.parse_args()

    results = collections.Counter()
    failures = collections.Counter()
    started = time.monotonic()
    if args.mode == "http":
        for _ in range(args.count):
            record(results, failures, lambda: get(args.vip, args.port))
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
    json.dump({"backends": dict(results), "failures": dict(failures),
               "seconds": round(time.monotonic() - started, 3)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
