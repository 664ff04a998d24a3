#!/usr/bin/env python3
"""compat_load.py -- the Group Ironmen Tracker API under the plugin's load.

  compat_load.py setup URL GROUPS BANK OUT    create GROUPS groups of 5 members
                                              through the API, give each member a
                                              bank of BANK items, write OUT (one
                                              "name token" line per group)
  compat_load.py run URL GROUPS_FILE PLUGINS SITES SECONDS
                                              PLUGINS simulated plugins posting once
                                              a second, SITES sites polling
                                              get-group-data once a second, at a
                                              fixed rate; prints one RESULT line

The run is open-loop: each plugin and site has a fixed schedule (one request
a second, starting at a random offset), and a request's latency runs from
its scheduled time, so a slow server cannot slow the load down and hide its
own delay (no coordinated omission).  The first WARMUP seconds, when every
plugin opens its connection and every site makes its first (full) poll,
run the same load but are not measured.  Each plugin keeps its own keep-alive
connection, as the plugin's HTTP client does.  A plugin posts what the real
one posts each second: its coordinates and stats, and every tenth time its
inventory (each plugin on its own phase, as real players are not in step,
so a tenth of the plugins send an inventory in any one second; LOCKSTEP=1
puts them in step, every inventory in the same second of ten).  A site
polls with the site's from_time protocol (the newest last_updated + 1 ms).
Only the standard library: asyncio streams speaking HTTP/1.1.
"""
import asyncio
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta

WARMUP = 5      # seconds before the measured SECONDS
LOCKSTEP = os.environ.get("LOCKSTEP") == "1"


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.r = self.w = None

    async def request(self, method, path, headers=None, body=None):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection(self.host, self.port)
        data = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}",
                f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        self.w.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        try:
            status = int((await self.r.readline()).split()[1])
            length = 0
            while True:
                line = await self.r.readline()
                if line in (b"\r\n", b""):
                    break
                k, _, v = line.decode().partition(":")
                if k.lower() == "content-length":
                    length = int(v)
                elif k.lower() == "connection" and v.strip().lower() == "close":
                    self.close()
            payload = await self.r.readexactly(length) if length else b""
        except (IndexError, ValueError, ConnectionError, asyncio.IncompleteReadError):
            self.close()
            return 0, b""
        return status, payload

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


def split_url(url):
    hostport = url.split("://", 1)[1].rstrip("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80)


def slots(pairs, n):
    flat = [v for p in pairs for v in p]
    return flat + [0, 0] * (n - len(pairs))


async def setup(url, groups, bank, out):
    host, port = split_url(url)
    lines = []
    sem = asyncio.Semaphore(4)

    async def one(g):
        async with sem:
            c = Conn(host, port)
            name = f"bench{g}"
            members = [f"m{g}x{i}" for i in range(5)]
            st, body = await c.request("POST", "/api/create-group",
                                       body={"name": name, "member_names": members})
            assert st == 201, (st, body)
            token = json.loads(body)["token"]
            for i, m in enumerate(members):
                items = []
                for j in range(bank):
                    items += [1 + (g * 7 + i * 13 + j * 3) % 27000, 1 + j % 1000]
                for _ in range(20):     # 503 busy: retried, as the plugin does
                    st, body = await c.request(
                        "POST", f"/api/group/{name}/update-group-member",
                        headers={"Authorization": token},
                        body={"name": m, "bank": items, "skills": [1000] * 24,
                              "stats": [10, 10, 1, 1, 100, 100, 301],
                              "inventory": slots([(995, 1000 + i)], 28),
                              "coordinates": [3200, 3200, 0]})
                    if st != 503:
                        break
                    await asyncio.sleep(1)
                assert st == 200, (st, body)
            c.close()
            lines.append(f"{name} {token}")

    await asyncio.gather(*(one(g) for g in range(groups)))
    with open(out, "w") as f:
        f.write("\n".join(sorted(lines)) + "\n")


def percentile(v, p):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


async def run(url, groups_file, plugins, sites, seconds):
    host, port = split_url(url)
    groups = [line.split() for line in open(groups_file) if line.strip()]
    lat = {"plugin": [], "site": []}
    bad = {"plugin": 0, "site": 0}
    start = time.monotonic() + 1.0
    # The first seconds open every connection at once: measured apart.
    warm = start + WARMUP
    end = warm + seconds

    async def plugin(k):
        name, token = groups[(k // 5) % len(groups)]
        g = int(name[5:])
        member = f"m{g}x{k % 5}"
        path = f"/api/group/{name}/update-group-member"
        c = Conn(host, port)
        at = start + random.random()
        n = 0 if LOCKSTEP else k % 10    # its phase (see above)
        while at < end:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            n += 1
            body = {"name": member, "coordinates": [3200 + n % 50, 3200, 0],
                    "stats": [10, 10, 1, 1, 100 - n % 100, 100, 301]}
            if n % 10 == 0:
                body["inventory"] = slots([(995, 1000 + n), (1511, 1 + n % 27)], 28)
            st, _ = await c.request("POST", path, headers={"Authorization": token},
                                    body=body)
            if at >= warm:
                lat["plugin"].append(time.monotonic() - at)
            if not 200 <= st < 300:
                bad["plugin"] += 1
            at += 1.0
        c.close()

    async def site(k):
        name, token = groups[k % len(groups)]
        c = Conn(host, port)
        since = "1970-01-01T00:00:00.000Z"
        at = start + random.random()
        while at < end:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            st, body = await c.request(
                "GET", f"/api/group/{name}/get-group-data?from_time={since}",
                headers={"Authorization": token})
            if at >= warm:
                lat["site"].append(time.monotonic() - at)
            if st != 200:
                bad["site"] += 1
            else:
                times = [m["last_updated"] for m in json.loads(body) if "last_updated" in m]
                if times:
                    t = datetime.strptime(max(times), "%Y-%m-%dT%H:%M:%S.%fZ")
                    since = (t + timedelta(milliseconds=1)).strftime(
                        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            at += 1.0
        c.close()

    await asyncio.gather(*(plugin(k) for k in range(plugins)),
                         *(site(k) for k in range(sites)))
    out = []
    for kind in ("plugin", "site"):
        v = lat[kind]
        out.append(f"{kind}_n={len(v)} {kind}_rps={len(v) / seconds:.0f} "
                   f"{kind}_p50_ms={percentile(v, 0.5) * 1000:.1f} "
                   f"{kind}_p99_ms={percentile(v, 0.99) * 1000:.1f} "
                   f"{kind}_max_ms={max(v, default=0) * 1000:.1f} {kind}_bad={bad[kind]}")
    print("RESULT " + " ".join(out))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "setup":
        asyncio.run(setup(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
    elif len(sys.argv) == 7 and sys.argv[1] == "run":
        asyncio.run(run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                        float(sys.argv[6])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
