#!/usr/bin/env python3
"""HTTP helpers for ferry's ingress tests (Python standard library only).

  fy_http.py serve --port P --name N --dir D [--timeout S]
      HTTP/1.1 target with keep-alive: GET /file/NAME serves D/NAME; GET /who
      answers "agent=N path=... xff=... proto=... host=... conn=K" (K counts the
      connections this server accepted); POST/PUT anything answers the sha256
      of the body (Content-Length or chunked); GET /ws with Upgrade: websocket
      echoes WebSocket messages. Prints "listening port=P" when ready.
  fy_http.py proxyecho --port P [--timeout S]
      TCP target behind -R ...,proxy-protocol: reads the PROXY v2 header and
      answers "src=ADDR:PORT" (or "noproxy" when the first bytes are not one).
  fy_http.py wsclient --port P --host H [--path /ws] MESSAGE...
      WebSocket client through the relay's HTTP port: prints each echo.
  fy_http.py raw --port P [--host-addr A] [--tls-host H --cafile F] [--hold S] DATA
      sends DATA (Python escapes: \\r\\n) and prints the first line of the answer.
  fy_http.py ppclient --port P
      connects, prints "me=ADDR:PORT" and what the target answered.
Every wait is bounded; each server exits by itself after --timeout seconds.
"""
import argparse
import base64
import hashlib
import http.server
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exact(f, n):
    out = b""
    while len(out) < n:
        b = f.read(n - len(out))
        if not b:
            raise EOFError("short read")
        out += b
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stdout.write("req %s\n" % (fmt % args))
        sys.stdout.flush()

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.conns += 1
            self.conn_no = self.server.conns

    def reply(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path == "/who":
            body = ("agent=%s path=%s xff=%s proto=%s host=%s conn=%d\n" % (
                self.server.agent, self.path, self.headers.get("X-Forwarded-For"),
                self.headers.get("X-Forwarded-Proto"), self.headers.get("X-Forwarded-Host"),
                self.conn_no)).encode()
            return self.reply(200, body)
        if self.path.startswith("/file/"):
            p = os.path.join(self.server.dir, os.path.basename(self.path))
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                return self.reply(404, b"no such file\n")
            return self.reply(200, data, "application/octet-stream")
        return self.reply(200, ("agent=%s path=%s\n" % (self.server.agent, self.path)).encode())

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += read_exact(self.rfile, size)
                self.rfile.readline(10)
        return read_exact(self.rfile, int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        data = self.body()
        self.reply(200, ("sha256=%s bytes=%d path=%s\n" % (
            hashlib.sha256(data).hexdigest(), len(data), self.path)).encode())

    do_PUT = do_POST

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        acc = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", acc)
        self.end_headers()
        self.wfile.flush()
        while True:
            try:
                op, payload = ws_read(self.rfile)
            except EOFError:
                break
            if op == 8:
                ws_write(self.wfile, 8, payload, False)
                break
            ws_write(self.wfile, op, payload, False)
        self.close_connection = True


def ws_read(f):
    b0, b1 = read_exact(f, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(f, 8))[0]
    mask = read_exact(f, 4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytearray(read_exact(f, n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return b0 & 0x0F, bytes(data)


def ws_write(f, op, payload, masked):
    n = len(payload)
    head = bytes([0x80 | op])
    mbit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if masked:
        mask = os.urandom(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    f.write(head + payload)
    f.flush()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(a):
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.agent, srv.dir, srv.conns, srv.lock = a.name, a.dir, 0, threading.Lock()
    threading.Timer(a.timeout, srv.shutdown).start()
    print("listening port=%d" % a.port, flush=True)
    srv.serve_forever()


class PPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.settimeout(10)
        hdr = b""
        while len(hdr) < 16:
            b = s.recv(16 - len(hdr))
            if not b:
                return
            hdr += b
        if hdr[:12] != b"\r\n\r\n\0\r\nQUIT\n" or hdr[12] != 0x21:
            s.sendall(b"noproxy\n")
            return
        fam, n = hdr[13], struct.unpack("!H", hdr[14:16])[0]
        addr = b""
        while len(addr) < n:
            addr += s.recv(n - len(addr))
        if fam == 0x11:
            src = socket.inet_ntop(socket.AF_INET, addr[0:4])
            sport = struct.unpack("!H", addr[8:10])[0]
        else:
            src = socket.inet_ntop(socket.AF_INET6, addr[0:16])
            sport = struct.unpack("!H", addr[32:34])[0]
        s.sendall(("src=%s:%d\n" % (src, sport)).encode())


def proxyecho(a):
    class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True
    srv = S(("127.0.0.1", a.port), PPHandler)
    threading.Timer(a.timeout, srv.shutdown).start()
    print("listening port=%d" % a.port, flush=True)
    srv.serve_forever()


def connect(a):
    s = socket.create_connection((getattr(a, "host_addr", None) or "127.0.0.1", a.port),
                                 timeout=10)
    if getattr(a, "tls_host", None):
        ctx = ssl.create_default_context(cafile=a.cafile)
        s = ctx.wrap_socket(s, server_hostname=a.tls_host)
    return s


def wsclient(a):
    s = connect(a)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (
                   a.path, a.host, key)).encode())
    f = s.makefile("rwb")
    status = f.readline()
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    if b" 101 " not in status or headers.get("sec-websocket-accept") != want:
        print("FAIL handshake: %r %r" % (status, headers))
        return 1
    for m in a.message:
        ws_write(f, 1 if m.isprintable() else 2, m.encode(), True)
        op, data = ws_read(f)
        print("echo %s" % data.decode())
    big = os.urandom(200000)
    ws_write(f, 2, big, True)
    op, data = ws_read(f)
    print("big %s" % ("ok" if data == big else "differs"))
    ws_write(f, 8, b"", True)
    return 0


def raw(a):
    s = connect(a)
    data = a.data.encode().decode("unicode_escape").encode("latin-1")
    try:
        s.sendall(data)
        if a.hold:
            time.sleep(a.hold)
        s.settimeout(a.wait)
        out = b""
        while b"\n" not in out:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except (OSError, socket.timeout) as e:
        print("error %s" % e)
        return 0
    print(out.split(b"\r\n")[0].decode("latin-1") if out else "eof")
    return 0


def ppclient(a):
    s = connect(a)
    me = s.getsockname()
    s.settimeout(10)
    got = s.recv(200).decode().strip()
    print("me=%s:%d %s" % (me[0], me[1], got))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--name", required=True)
    sp.add_argument("--dir", default=".")
    sp.add_argument("--timeout", type=float, default=300)
    sp = sub.add_parser("proxyecho")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--timeout", type=float, default=300)
    sp = sub.add_parser("wsclient")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--host", required=True)
    sp.add_argument("--path", default="/ws")
    sp.add_argument("message", nargs="+")
    sp = sub.add_parser("raw")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--host-addr", default="127.0.0.1")
    sp.add_argument("--tls-host")
    sp.add_argument("--cafile")
    sp.add_argument("--hold", type=float, default=0)
    sp.add_argument("--wait", type=float, default=10)
    sp.add_argument("data")
    sp = sub.add_parser("ppclient")
    sp.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    return {"serve": serve, "proxyecho": proxyecho, "wsclient": wsclient, "raw": raw,
            "ppclient": ppclient}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
