#!/usr/bin/env python3
"""A lab backend: HTTP on TCP port 80 and a UDP echo on port 7, both on
every address of the namespace (IPv4 and IPv6), answering with the
backend's name so clients can tell who served them.

HTTP (on each of --http-port): GET / -> "NAME\n"; GET /hold?seconds=N keeps the connection open
(for long-lived connection tests) then answers; POST / -> "NAME RECEIVED\n"
with the number of body bytes (bulk transfers for path-MTU tests).
UDP (on each --udp-bind address, so replies leave from the VIP the client
sent to, as direct server return needs): a datagram D -> "NAME D".

Standard library only, and nothing looked up by name: the lab has no route
out and must not send DNS queries.
"""
import argparse
import http.server
import socket
import socketserver
import sys
import threading
import time
import urllib.parse


class DualStackHTTPServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 256

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # TCPServer.server_bind, without HTTPServer's getfqdn() lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "lab", self.server_address[1]


def make_handler(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, body):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path == "/hold":
                query = urllib.parse.parse_qs(url.query)
                time.sleep(min(float(query.get("seconds", ["1"])[0]), 60))
            self.reply(name + "\n")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            received = 0
            while received < length:
                chunk = self.rfile.read(min(65536, length - received))
                if not chunk:
                    break
                received += len(chunk)
            self.reply(f"{name} {received}\n")

    return Handler


def serve_udp(name, address, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((address, port))
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(name.encode() + b" " + data, peer)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--http-port", type=int, action="append")
    parser.add_argument("--udp-port", type=int, default=7)
    parser.add_argument("--udp-bind", action="append", default=[])
    args = parser.parse_args()
    for address in args.udp_bind:
        threading.Thread(target=serve_udp,
                         args=(args.name, address, args.udp_port),
                         daemon=True).start()
    servers = [DualStackHTTPServer(("::", port), make_handler(args.name))
               for port in args.http_port or [80]]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"{args.name}: http {args.http_port} udp {args.udp_bind}:"
          f"{args.udp_port}", file=sys.stderr, flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
