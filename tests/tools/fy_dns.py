#!/usr/bin/env python3
"""A tiny DNS server for tests: answers A queries for the names it is given,
after a delay when asked to, NXDOMAIN for every other name, and an empty
answer for other types of a known name. Each query and each answer is logged
on stdout ("query NAME TYPE", "answer NAME TYPE RCODE"), flushed at once.

    fy_dns.py --listen 127.0.0.1:53 --addr slow.fy.test=127.0.0.1 \
              --delay slow.fy.test=3 --lifetime 600
"""
import argparse
import socket
import struct
import sys
import threading
import time

TYPES = {1: "A", 28: "AAAA"}


def parse_name(msg, off):
    labels = []
    while True:
        if off >= len(msg):
            raise ValueError("name past the end")
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def answer(query, addrs):
    """Returns (reply bytes, name, type, rcode) or None for garbage."""
    if len(query) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    if qd != 1 or flags & 0x8000:
        return None
    try:
        name, off = parse_name(query, 12)
    except ValueError:
        return None
    if off + 4 > len(query):
        return None
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    rcode, records = 0, b""
    if name not in addrs:
        rcode = 3
    elif qtype == 1 and qclass == 1:
        records = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) +
                   socket.inet_aton(addrs[name]))
    ancount = 1 if records else 0
    header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, ancount, 0, 0)
    return header + question + records, name, TYPES.get(qtype, str(qtype)), rcode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:53")
    ap.add_argument("--addr", action="append", default=[], help="NAME=IPv4")
    ap.add_argument("--delay", action="append", default=[], help="NAME=SECONDS")
    ap.add_argument("--lifetime", type=float, default=600, help="exit after this many s")
    a = ap.parse_args()
    addrs = dict(x.lower().split("=", 1) for x in a.addr)
    delays = {k.lower(): float(v) for k, v in (x.split("=", 1) for x in a.delay)}
    host, port = a.listen.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    sock.settimeout(1.0)
    lock = threading.Lock()

    def log(line):
        with lock:
            print(line, flush=True)

    def reply(data, peer, name, qtype, rcode):
        sock.sendto(data, peer)
        log("answer %s %s %d" % (name, qtype, rcode))

    log("listening %s" % a.listen)
    end = time.monotonic() + a.lifetime
    while time.monotonic() < end:
        try:
            query, peer = sock.recvfrom(4096)
        except socket.timeout:
            continue
        r = answer(query, addrs)
        if not r:
            continue
        data, name, qtype, rcode = r
        log("query %s %s" % (name, qtype))
        t = threading.Timer(delays.get(name, 0), reply, (data, peer, name, qtype, rcode))
        t.daemon = True
        t.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
