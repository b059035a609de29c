#!/usr/bin/env python3
"""A stand-in for kube-apiserver's TLS behaviour, for scripts/bench-nodelay.sh.

Serves GET /api/v1/nodes (two nodes) over TLS 1.3 with session tickets off, so that, as
with Go's crypto/tls (which sends its tickets with its own handshake flight), the server
has nothing to send after the client's Finished: its ACK of that flight is delayed, and a
client with Nagle's algorithm on holds its request until it comes. The sandbox's rustls
server sends its tickets right after the client's Finished, which acknowledges it at once
and hides the stall. Usage: nagle-tls-server.py CERT KEY PORT_FILE
"""
import http.server
import json
import socket
import ssl
import sys

NODES = json.dumps({
    "kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
    "items": [{"metadata": {"name": f"bench-node-{i}"},
               "status": {"nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"}}} for i in (1, 2)],
}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # Go sets TCP_NODELAY on the server's connections too: only the client's Nagle is measured.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def do_GET(self):
        found = self.path.split("?")[0] == "/api/v1/nodes"
        body = NODES if found else b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    cert, key, port_file = sys.argv[1:4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.num_tickets = 0
    ctx.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
