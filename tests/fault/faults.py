"""The faults, and one run of the sync load with one of them.

A fault is either bounded or continuous:

* bounded (kill -9 of a worker, of the broker or of PostgreSQL, a
  PostgreSQL outage, every pool connection held): apply() does it and
  returns when the fault is over (the kill sent; PostgreSQL started
  again; the holds released).  Requests may fail meanwhile; what counts
  is that none fails for long after and nothing acknowledged is lost.
* continuous (slowloris connections, clients that hang up mid-request):
  start() before the load's middle, stop() at its end.  The sync
  clients must not notice: no request of theirs may fail.

run() drives one: it links a fresh character for every account, starts
the clients, lets them run a while, applies the fault, lets them run on,
stops them, waits for the service to answer everybody again and checks
every client (load.Client.verify).  Recovery is measured from the moment
the fault ends (for a continuous one, from its start) to the end of the
last failed request, the final checks' own retries included.
"""
import json
import os
import re
import signal
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from helpers import wait_until
from load import (BATCH_CONTAINERS, BATCH_PARTS, PUT_CONTAINERS, REQUEST_TIMEOUT,
                  Client, cpath, failed, items_for, recovered_at, skills_for, summary)
from sessions import char_name

WARM_TIMEOUT = 60       # every client's first 200, on a slow build


class Fault:
    name = None
    postgres_only = False
    continuous = False

    def __init__(self, target, cfg):
        self.target = target
        self.inst = target.inst
        self.cfg = cfg
        self.expected_deaths = set()    # pids the fault itself kills
        self.notes = []                 # said in the figures' last column
        self.problems = []              # the fault could not be applied


# ---- processes ----

class KillWorker(Fault):
    name = "kill -9 a worker"

    def apply(self):
        pid = wait_until(self.inst.worker_pids, 10, "the worker pids")[0]
        self.expected_deaths.add(pid)
        os.kill(pid, signal.SIGKILL)


class KillBroker(Fault):
    name = "kill -9 the broker"

    def apply(self):
        pid = wait_until(self.inst.broker_pid, 10, "the broker pid")
        self.expected_deaths.add(pid)
        os.kill(pid, signal.SIGKILL)


class KillPostgres(Fault):
    name = "kill -9 PostgreSQL, restart"
    postgres_only = True

    def apply(self):
        try:
            self.target.pg.kill9()
        finally:
            self.target.pg.start_again()


class StopPostgres(Fault):
    postgres_only = True

    def __init__(self, target, cfg):
        super().__init__(target, cfg)
        self.name = f"PostgreSQL stopped {cfg.pg_down:g} s"

    def apply(self):
        self.target.pg.stop()
        try:
            # The outage itself lasts this long: a fixed span by definition.
            threading.Event().wait(self.cfg.pg_down)
        finally:
            self.target.pg.start_again()


class HoldPool(Fault):
    """Every pool connection taken by a transaction that sleeps (the
    development route POST /internal/dev/sleep?hold=MARK, docs/API.md
    "Ops and health"), each with its own mark so they do not wait on one
    another's row lock."""
    postgres_only = True

    def __init__(self, target, cfg):
        super().__init__(target, cfg)
        self.n = int(self.inst.settings["database"]["pool_max"])
        self.name = f"all {self.n} pool connections held {cfg.hold:g} s"

    def apply(self):
        n = self.n
        ms = int(self.cfg.hold * 1000)
        until = time.monotonic() + self.cfg.hold
        held = []

        def hold(i):
            # A hold that waited out pool_timeout behind the load tries
            # again while there is time left.
            while time.monotonic() < until:
                try:
                    r = self.inst.post(f"/internal/dev/sleep?ms={ms}&hold=fault-hold-{i}",
                                       admin=True, timeout=REQUEST_TIMEOUT + ms / 1000)
                    if r.status_code == 200:
                        held.append(i)
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.05)
        threads = [threading.Thread(target=hold, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(held) < n:
            self.problems.append(f"only {len(held)} of {n} holds got a connection")


# ---- connections ----

class Slowloris(Fault):
    """Connections that send their request a byte at a time: half trickle
    header lines, half a body of a declared length.  Any the server
    closes are opened again, and counted."""
    continuous = True
    TICK = 1.0

    def __init__(self, target, cfg):
        super().__init__(target, cfg)
        self.name = f"{cfg.slowloris} slowloris connections"

    def start(self):
        self.socks = [self.open(i) for i in range(self.cfg.slowloris)]
        self.dropped = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def open(self, i):
        s = socket.create_connection(("127.0.0.1", self.inst.port), timeout=5)
        if i % 2:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        else:
            s.sendall(b"POST /api/v1/sync/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
        return s

    def trickle(self):
        while not self.done.wait(self.TICK):
            for i, s in enumerate(self.socks):
                try:
                    if s is None:
                        self.socks[i] = self.open(i)
                    else:
                        s.sendall(b"a" if i % 2 else b" ")
                except OSError:
                    if s is not None:
                        s.close()
                        self.dropped += 1
                    self.socks[i] = None

    def stop(self):
        self.done.set()
        self.thread.join()
        for s in self.socks:
            if s is not None:
                s.close()
        if self.dropped:
            self.notes.append(f"the server closed {self.dropped} slow connections")


class Disconnector(Client):
    """A plugin that hangs up mid-request, on its own character: part of
    the headers, part of the body, or the whole request and then gone
    before the answer (with a FIN or a reset).  Only whole requests may
    ever apply, and a batch still all or nothing; Client.verify checks
    both, since only whole bodies go into .sent."""

    MODES = ("head", "body", "whole", "whole-wait")

    def __init__(self, inst, account, name, stop):
        super().__init__(inst, account, name, stop)
        self.port = inst.port
        self.token = account.token
        self.hangups = dict.fromkeys(self.MODES, 0)

    def raw(self, method, path, body):
        data = (f'{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                f'Authorization: Bearer {self.token}\r\n'
                'Content-Type: application/json\r\n'
                f'Content-Length: {len(body)}\r\n\r\n').encode()
        head = len(data)
        data += body
        mode = self.rng.choice(self.MODES)
        upto = {"head": self.rng.randrange(1, head),
                "body": self.rng.randrange(head, len(data))}.get(mode, len(data))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(data[:upto])
                if mode == "whole-wait":
                    self.stop.wait(self.rng.random() * 0.005)
                if self.rng.random() < 0.5:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.hangups[mode] += 1
        return upto == len(data)

    def run(self):
        while not self.stop.is_set():
            self.seq += 1
            s = self.seq
            if self.rng.random() < 0.5:
                c = self.rng.choice(PUT_CONTAINERS)
                body = {"seq": s, "items": items_for(self.name, c, s)}
                if self.raw("PUT", cpath(self.name, c), json.dumps(body).encode()):
                    self.sent[c].add(s)
            else:
                body = {"character": self.name,
                        "containers": {c: {"seq": s, "items": items_for(self.name, c, s)}
                                       for c in BATCH_CONTAINERS},
                        "skills": {"seq": s, "skills": skills_for(self.name, s)}}
                if self.raw("POST", "/api/v1/sync/batch", json.dumps(body).encode()):
                    for part in BATCH_PARTS:
                        self.sent[part].add(s)
            self.stop.wait(0.01)


class Disconnect(Fault):
    name = "clients hanging up mid-request"
    continuous = True

    def start(self):
        self.stop_event = threading.Event()
        account = self.target.spare
        name = link_character(self.inst, account)
        self.client = Disconnector(self.inst, account, name, self.stop_event)
        self.client.start()

    def stop(self):
        self.stop_event.set()
        self.client.join()
        h = self.client.hangups
        self.notes.append(f"hung up {sum(h.values())} times: {h['head']} in the headers, "
                          f"{h['body']} in the body, {h['whole'] + h['whole-wait']} "
                          "after the whole request")


FAULTS = {
    "kill_worker": KillWorker,
    "kill_broker": KillBroker,
    "slowloris": Slowloris,
    "disconnect": Disconnect,
    "hold_pool": HoldPool,
    "kill_postgres": KillPostgres,
    "stop_postgres": StopPostgres,
}


# ---- one run ----

def link_character(inst, account):
    name = char_name()
    r = requests.post(inst.url + "/api/v1/sync/characters", json={"name": name},
                      headers=account.bearer, timeout=REQUEST_TIMEOUT)
    assert r.status_code == 201, r.text
    return name


class Figures:
    """What one run measured; a row of the table."""

    def __init__(self, fault, engine):
        self.fault = fault.name
        self.engine = engine
        self.requests = self.acked = self.failed = self.failed_before = 0
        self.statuses = {}
        self.lost = self.partial = 0
        self.bad = []
        self.lost_detail = []
        self.partial_detail = []
        self.recovery = 0.0
        self.notes = fault.notes
        self.deaths = []

    def row(self):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items(),
                                                           key=lambda kv: str(kv[0])))
        notes = "; ".join(self.notes + ([f"failures: {kinds}"] if kinds else []))
        return (f"| {self.fault} | {self.engine} | {self.requests} | {self.failed} | "
                f"{self.acked} | {self.lost} | {self.partial} | {self.recovery:.2f} | {notes} |")


TABLE_HEAD = ("| fault | engine | requests | failed | writes acknowledged | "
              "acknowledged writes lost | partial batches | recovery s | notes |\n"
              "|---|---|---|---|---|---|---|---|---|")

_DEATH = re.compile(r"^.*\(pid (\d+)\) (?:exited with status \d+|killed by signal \d+).*$", re.M)


def run(target, fault, cfg):
    inst = target.inst
    fig = Figures(fault, inst.engine)
    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda a: link_character(inst, a), target.accounts))
    stop = threading.Event()
    clients = [Client(inst, a, n, stop) for a, n in zip(target.accounts, names)]
    mark = inst.log_mark()
    started = False
    for c in clients:
        c.start()
    try:
        wait_until(lambda: all(any(rec[3] == 200 for rec in c.records) for c in clients),
                   WARM_TIMEOUT, "every client's first 200")
        begin = time.monotonic()
        stop.wait(cfg.pre)
        t_fault = time.monotonic()
        if fault.continuous:
            fault.start()
            started = True
            t_lift = t_fault
        else:
            fault.apply()
            t_lift = time.monotonic()
        stop.wait(max(begin + cfg.seconds, t_lift + cfg.settle) - time.monotonic())
    finally:
        if started:
            fault.stop()
        stop.set()
        for c in clients:
            c.join(REQUEST_TIMEOUT + 10)
    fig.requests, fig.acked, fig.failed, fig.statuses = summary(clients)
    fig.failed_before = sum(1 for c in clients for rec in c.records
                            if rec[1] < t_fault and failed(rec[3]))

    # The final checks retry until the service answers: their failures
    # count towards the recovery time, not the figures above.
    deadline = time.monotonic() + cfg.recovery
    checked = clients + ([fault.client] if isinstance(fault, Disconnect) else [])
    for c in checked:
        c.verify(deadline)
    last, _ = recovered_at(checked)
    fig.recovery = 0.0 if last is None else max(0.0, last - t_lift)
    for c in checked:
        fig.lost += len(c.lost)
        fig.lost_detail += c.lost.values()
        fig.partial_detail += [f"{c.name}: {', '.join(BATCH_PARTS)} at seqs {seqs}"
                               for seqs in sorted(c.partial)]
        fig.partial += len(c.partial)
        fig.bad += c.bad
    fig.deaths = [m.group(0) for m in _DEATH.finditer(inst.log(), mark)
                  if int(m.group(1)) not in fault.expected_deaths]
    return fig
