"""The sync load of the fault suite, and what it checks.

Each client is one plugin: its own account, token and character, a
requests.Session (keep-alive, like a plugin), and a loop that sends
full container PUTs and batches, one at a time, each with a seq higher
than any before it.  Nothing is retried: a request that does not answer
200 is a failed request, its seq is spent, and the next write has a
higher one.  A 200 means the write is durable, so the client remembers,
per container, the highest seq acknowledged.

The containers split in two, so the final state proves something:

* PUT_CONTAINERS are only ever written by a PUT;
* BATCH_CONTAINERS and the skills are only ever written together, by a
  batch giving each of them the same seq.  Since a batch is all or
  nothing, they always hold one seq between them; any difference is a
  batch applied in part.

The checks read GET /api/v1/sync/state, which is one SELECT, so one
snapshot: a client reads it after each failed request (as a plugin
resumes after an error, docs/API.md "GET /api/v1/sync/state"), every
RESYNC_EVERY requests, and at the end.  Each read checks that no
container holds less than its last acknowledged seq (a lost write),
that every stored seq is one the client sent, and that the batch
containers agree (a partial batch).  At the end each container is also
read whole and its items compared with the body of the seq it holds.

Bodies are a function of (character, container, seq), so nothing sent
has to be stored to compare it later.
"""
import random
import threading
import time
from collections import defaultdict

import requests

PUT_CONTAINERS = ("bank", "seed_vault", "looting_bag")
BATCH_CONTAINERS = ("inventory", "equipment", "rune_pouch")
SKILLS = "skills"               # the skills' seq, kept like a container's
BATCH_PARTS = BATCH_CONTAINERS + (SKILLS,)
SKILL_NAMES = ("attack", "magic", "mining")
RESYNC_EVERY = 10
REQUEST_TIMEOUT = 60            # request_timeout (30 s) + a slow sanitizer build
BACKOFF = 0.1                   # a client's pause after a failed request


def cpath(name, container):
    return f"/api/v1/sync/characters/{name}/containers/{container}"


def items_for(name, container, seq):
    """The items a client sends for this container at this seq: distinct
    ids, so the stored state is exactly this list."""
    rng = random.Random(f"{name}/{container}/{seq}")
    n = rng.randint(0, 80 if container == "bank" else 28)
    return [{"id": i, "qty": rng.randint(1, 1000000)} for i in rng.sample(range(5000), n)]


def skills_for(name, seq):
    rng = random.Random(f"{name}/skills/{seq}")
    return {s: rng.randint(0, 200000000) for s in SKILL_NAMES}


def as_dict(items):
    return {i["id"]: i["qty"] for i in items}


def failed(status):
    return status != 200


class Client(threading.Thread):
    """One plugin syncing its own character until stop is set."""

    def __init__(self, inst, account, name, stop):
        super().__init__(daemon=True)
        self.url = inst.url
        self.name = name
        self.stop = stop
        self.rng = random.Random(name)
        self.http = requests.Session()
        self.http.headers.update(account.bearer)
        self.seq = 0
        self.sent = defaultdict(set)    # part -> every seq sent whole
        self.acked = {}                 # part -> highest seq answered 200
        self.records = []               # (start, end, kind, status)
        self.lost = {}                  # acknowledged seq -> what was seen
        self.partial = set()            # the batch parts' differing seqs
        self.bad = []                   # anything else that is wrong

    # ---- requests ----

    def request(self, kind, method, path, body=None):
        start = time.monotonic()
        try:
            r = self.http.request(method, self.url + path, json=body,
                                  timeout=REQUEST_TIMEOUT)
            status = r.status_code
        except requests.RequestException as e:
            r, status = None, type(e).__name__
        self.records.append((start, time.monotonic(), kind, status))
        return r, status

    def put(self):
        c = self.rng.choice(PUT_CONTAINERS)
        s = self.seq
        self.sent[c].add(s)
        r, status = self.request("put", "PUT", cpath(self.name, c),
                                 {"seq": s, "items": items_for(self.name, c, s)})
        if failed(status):
            return False
        self.acknowledged(c, s, r.json(), "put")
        return True

    def batch(self):
        s = self.seq
        body = {"character": self.name,
                "containers": {c: {"seq": s, "items": items_for(self.name, c, s)}
                               for c in BATCH_CONTAINERS},
                "skills": {"seq": s, "skills": skills_for(self.name, s)}}
        for part in BATCH_PARTS:
            self.sent[part].add(s)
        r, status = self.request("batch", "POST", "/api/v1/sync/batch", body)
        if failed(status):
            return False
        answer = r.json()
        for c in BATCH_CONTAINERS:
            self.acknowledged(c, s, answer["containers"].get(c, {}), "batch")
        self.acknowledged(SKILLS, s, answer.get("skills", {}), "batch")
        return True

    def acknowledged(self, part, seq, answer, what):
        if answer.get("applied") is not True or answer.get("seq") != seq:
            self.bad.append(f"{self.name}: {what} of {part} seq {seq} answered {answer}")
        self.acked[part] = max(seq, self.acked.get(part, -1))

    def read_state(self):
        """The stored seq of every part, from one snapshot; None when the
        request fails."""
        r, status = self.request("state", "GET", "/api/v1/sync/state")
        if failed(status):
            return None
        for ch in r.json()["characters"]:
            if ch["name"] == self.name:
                return dict(ch["containers"], skills=ch["skills_seq"])
        self.bad.append(f"{self.name}: missing from /sync/state")
        return {}

    # ---- checks ----

    def check(self, stored):
        """A snapshot against what was sent and acknowledged."""
        for part, seq in self.acked.items():
            if stored.get(part, 0) < seq:
                self.lost[seq] = (f"{self.name}: {part} acknowledged at seq {seq}, "
                                  f"then read at seq {stored.get(part)}")
        for part, seq in stored.items():
            if seq not in self.sent[part] and not (part == SKILLS and seq == 0):
                self.bad.append(f"{self.name}: {part} holds seq {seq}, never sent whole")
        seqs = tuple(stored.get(p, 0) for p in BATCH_PARTS)
        if len(set(seqs)) > 1:
            self.partial.add(seqs)

    def step(self, resync):
        """One request; returns whether the next must be a state read."""
        if resync:
            stored = self.read_state()
            if stored is not None:
                self.check(stored)
            return stored is None
        self.seq += 1
        return not (self.put() if self.rng.random() < 0.5 else self.batch())

    def run(self):
        resync = False
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                resync = self.step(resync or n % RESYNC_EVERY == 0)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                # A 200 whose body is not the documented answer.
                self.bad.append(f"{self.name}: unexpected answer: {e!r}")
                resync = True
            if resync:
                self.stop.wait(BACKOFF)

    def verify(self, deadline):
        """The final checks, once the load has stopped and the service is
        back: the state, then every container read whole.  Retries the
        reads until deadline (a monotonic time)."""
        stored = retry(self.read_state, deadline, f"{self.name}: /sync/state")
        self.check(stored)
        for part, seq in stored.items():
            if part == SKILLS:
                continue

            def get():
                r, status = self.request("get", "GET", cpath(self.name, part))
                return None if failed(status) else r.json()
            got = retry(get, deadline, f"{self.name}: GET {part}")
            if got["seq"] != seq:
                self.bad.append(f"{self.name}: {part} seq {got['seq']} after the load "
                                f"stopped, {seq} in the state just before")
            if as_dict(got["items"]) != as_dict(items_for(self.name, part, got["seq"])):
                self.bad.append(f"{self.name}: {part} at seq {got['seq']} does not hold "
                                "that seq's items")
                if got["seq"] == self.acked.get(part):
                    self.lost[got["seq"]] = f"{self.name}: {part} acknowledged, wrong items"


def retry(fn, deadline, what):
    """fn() until it returns something other than None, or deadline."""
    while True:
        value = fn()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"no answer by the deadline: {what}")
        time.sleep(BACKOFF)


def requests_since(clients, t):
    return [rec for c in clients for rec in c.records if rec[1] >= t]


def recovered_at(clients):
    """The end of the last failed request, or None if none failed; and
    whether every client succeeded at least once after it."""
    fails = [rec for c in clients for rec in c.records if failed(rec[3])]
    if not fails:
        return None, True
    last = max(rec[1] for rec in fails)
    after = all(any(rec[0] >= last and not failed(rec[3]) for rec in c.records)
                for c in clients)
    return last, after


def summary(clients):
    """(requests, writes answered 200, failed, {status: count} of the
    failures)."""
    total, acked, bad = 0, 0, defaultdict(int)
    for c in clients:
        for rec in c.records:
            total += 1
            if failed(rec[3]):
                bad[rec[3]] += 1
            elif rec[2] in ("put", "batch"):
                acked += 1
    return total, acked, sum(bad.values()), dict(bad)
