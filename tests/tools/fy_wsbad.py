#!/usr/bin/env python3
"""A WebSocket client that breaks the rules, for the relay's wss tunnel path
(Python standard library only).

  fy_wsbad.py --addr A --port P [--path /_ferry/tunnel] KIND

Does the agent's upgrade (TLS without verification, then GET PATH with
Sec-WebSocket-Protocol: ferry), checks the 101, then sends one bad thing:
  unmasked   a binary frame without a mask (clients must mask, RFC 6455 5.1)
  oversized  a masked binary frame declaring 16 MiB (over the relay's bound),
             followed by 64 KiB of it
  fragments  masked fragments of one message, 96 KiB each, until refused
  text       a masked text frame
Then reads until the relay closes, at most --timeout seconds. Prints one line:
  "ok KIND upgraded=1 close_code=C closed=1 bytes_sent=N"
(close_code: the code of the relay's close frame, 0 if none came); exits 1 when
the upgrade failed or the relay did not close.
"""
import argparse
import base64
import os
import socket
import ssl
import struct
import sys
import time


def frame(op, payload, fin=True, mask=True, length=None):
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | op])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/_ferry/tunnel")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("kind", choices=["unmasked", "oversized", "fragments", "text"])
    a = ap.parse_args()
    deadline = time.time() + a.timeout
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((a.addr, a.port), timeout=a.timeout)
    s = ctx.wrap_socket(raw, server_hostname="relay.example.org")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: relay.example.org\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: ferry\r\n\r\n" % (a.path, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 8192:
        b = s.recv(4096)
        if not b:
            break
        head += b
    if not head.startswith(b"HTTP/1.1 101 "):
        print("FAIL %s: no 101: %r" % (a.kind, head[:80]))
        return 1
    rest = head.split(b"\r\n\r\n", 1)[1]
    sent = 0
    try:
        if a.kind == "unmasked":
            f = frame(2, b"\x00" * 32, mask=False)
            s.sendall(f)
            sent += len(f)
        elif a.kind == "oversized":
            f = frame(2, b"\x00" * 65536, length=16 << 20)
            s.sendall(f)
            sent += len(f)
        elif a.kind == "text":
            f = frame(1, b"hello")
            s.sendall(f)
            sent += len(f)
        else:
            op = 2
            for _ in range(64):
                f = frame(op, b"\x00" * 98304, fin=False)
                s.sendall(f)
                sent += len(f)
                op = 0
    except OSError:
        pass  # closed while we sent: what the relay should do
    data = rest
    closed = False
    s.settimeout(1)
    while time.time() < deadline:
        try:
            b = s.recv(4096)
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            closed = True
            break
        if not b:
            closed = True
            break
        data += b
    code = 0
    if len(data) >= 4 and data[0] == 0x88 and (data[1] & 0x7F) >= 2:
        code = struct.unpack("!H", data[2:4])[0]
    if not closed:
        print("FAIL %s: the relay did not close the connection" % a.kind)
        return 1
    print("ok %s upgraded=1 close_code=%d closed=1 bytes_sent=%d" % (a.kind, code, sent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
