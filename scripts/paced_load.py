#!/usr/bin/env python3
"""paced_load.py PORT PID SECONDS: 1,000 requests/s over 50 streams to an echo
service on 127.0.0.1:PORT (64-byte request, same reply, each connection paced at
20/s) for SECONDS, sampling PID's RSS and RssAnon every 100 ms. Prints one line of
key=value figures; exits 1 if a reply was wrong. Used by scripts/footprint.sh and
scripts/rss.sh."""
import asyncio, sys, time
port, pid, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
STREAMS, RATE, SIZE = 50, 1000.0, 64
interval = STREAMS / RATE
lat, errors, rss, anon = [], [0], [0], [0]

def status(key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0

async def sampler(end):
    while time.monotonic() < end:
        rss[0] = max(rss[0], status("VmRSS:"))
        anon[0] = max(anon[0], status("RssAnon:"))
        await asyncio.sleep(0.1)

async def stream(i, start, end):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    msg = bytes([65 + i % 26]) * SIZE
    t = start + i * interval / STREAMS
    while True:
        now = time.monotonic()
        if t > end:
            break
        if t > now:
            await asyncio.sleep(t - now)
        t0 = time.perf_counter()
        w.write(msg)
        await w.drain()
        got = await r.readexactly(SIZE)
        if got != msg:
            errors[0] += 1
        lat.append(time.perf_counter() - t0)
        t += interval
    w.close()
    await w.wait_closed()

async def main():
    start = time.monotonic() + 0.5
    end = start + secs
    await asyncio.gather(sampler(end), *(stream(i, start, end) for i in range(STREAMS)))
    lat.sort()
    n = len(lat)
    print(f"requests={n} rate={n / secs:.0f} errors={errors[0]} p50_ms={lat[n // 2] * 1e3:.2f} "
          f"p99_ms={lat[int(n * 0.99)] * 1e3:.2f} max_rss_kb={rss[0]} max_anon_kb={anon[0]} "
          f"hwm_kb={status('VmHWM:')}")
    sys.exit(1 if errors[0] else 0)

asyncio.run(main())
