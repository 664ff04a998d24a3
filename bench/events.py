#!/usr/bin/env python3
"""events.py -- live events fan-out: STREAMS open event streams on one group
(spread over cofferd's workers by the kernel), then ROUNDS bank syncs by a
member; for each sync, the time from sending the PUT until each stream has
read its `vault` event.  Also the RSS of every cofferd process before and
after the streams opened.

    bench/events.py URL MASTER_PID [STREAMS] [ROUNDS]

cofferd must run with the mock provider, [limits] streams_per_user >=
STREAMS and no request rates (bench/events.sh writes such a config).  The
client is one Python process reading every socket with selectors, so its
own time to read and parse is part of each latency.  Prints one Markdown
table row per figure.
"""
import json
import os
import resource
import selectors
import socket
import statistics
import sys
import time

import requests

url = sys.argv[1]
master = int(sys.argv[2])
nstreams = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 20
host, port = url.split("//")[1].split(":")
port = int(port)


def login(name):
    s = requests.Session()
    r = s.get(url + "/auth/login/mock", params={"login_hint": name, "name": name})
    r.raise_for_status()
    csrf = {"X-CSRF-Token": s.cookies.get("coffer_csrf")}
    tok = s.post(url + "/api/v1/me/tokens", json={"label": "bench"}, headers=csrf).json()
    return s, csrf, {"Authorization": "Bearer " + tok["token"]}


def rss_kib():
    """VmRSS of every child of the master (workers and broker), in KiB."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != master:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

web, csrf, bearer = login("benchowner")
name = "bench" + str(os.getpid() % 100000)
r = requests.post(url + "/api/v1/sync/characters", json={"name": name}, headers=bearer)
assert r.status_code in (200, 201), r.text
g = web.post(url + "/api/v1/groups", json={"name": "bench", "characters": [name]},
             headers=csrf)
assert g.status_code == 201, g.text
gid = g.json()["id"]

base_rss = rss_kib()
sel = selectors.DefaultSelector()
streams = []
request = (f"GET /api/v1/groups/{gid}/events HTTP/1.1\r\nHost: {host}\r\n"
           f"Authorization: {bearer['Authorization']}\r\n\r\n").encode()
for i in range(nstreams):
    s = socket.create_connection((host, port))
    s.sendall(request)
    streams.append({"sock": s, "buf": b"", "head": False, "got": None})
for st in streams:     # every head, so every stream is subscribed
    while b"\r\n\r\n" not in st["buf"]:
        st["buf"] += st["sock"].recv(65536)
    head, st["buf"] = st["buf"].split(b"\r\n\r\n", 1)
    assert b" 200 " in head.split(b"\r\n")[0], head
    st["sock"].setblocking(False)
    sel.register(st["sock"], selectors.EVENT_READ, st)
time.sleep(1)
open_rss = rss_kib()

per_stream, per_round = [], []
item = 995
for rnd in range(1, rounds + 1):
    for st in streams:
        st["got"] = None
    body = {"seq": rnd, "items": [{"id": item, "qty": 1000 + rnd}, {"id": 4151, "qty": 1}]}
    t0 = time.monotonic()
    r = requests.put(f"{url}/api/v1/sync/characters/{name}/containers/bank", json=body,
                     headers=bearer)
    assert r.status_code == 200 and r.json()["applied"], r.text
    left = nstreams
    deadline = t0 + 10
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            st = key.data
            st["buf"] += st["sock"].recv(1 << 16)
            if st["got"] is None and f"\"seq\":{rnd},".encode() in st["buf"] and \
                    b"event: vault" in st["buf"]:
                st["got"] = time.monotonic() - t0
                left -= 1
            st["buf"] = st["buf"][-4096:]
    assert left == 0, f"{left} streams missed round {rnd}"
    lat = [st["got"] for st in streams]
    per_stream += lat
    per_round.append(max(lat))
    time.sleep(0.2)

ms = lambda v: f"{v * 1000:.1f}"
print(f"| {nstreams} | {rounds} | {ms(pct(per_stream, 50))} | {ms(pct(per_stream, 99))} | "
      f"{ms(pct(per_round, 50))} | {ms(pct(per_round, 99))} | "
      f"{(open_rss - base_rss) / 1024 * 1000 / nstreams:.1f} |")   # MiB per 1,000
for st in streams:
    st["sock"].close()
