"""The kept vault (docs/SCHEMA.md "The kept vault"), on both engines.

A group's vault is no longer summed on each read: every write that changes
it (a container PUT, PATCH or batch, sharing and unsharing, leaving or
being removed, deleting a character, a catalog refresh or rollback)
changes the kept rows in its own transaction.  POST /internal/vault/verify
(admin listener, ops token) recomputes the vault from the container rows
and answers the groups whose kept rows differ.

The randomized test runs many clients at once doing all of those writes,
then asks the verifier about every group: none may differ.  The other tests
check that the verifier does see a difference, and who may call it.
"""
import itertools
import os
import random
import tempfile
import threading
import uuid

import pytest
import requests

from client import TIMEOUT, assert_error, db_sql, mock_server
from groupkit import Player, catalog

OPS_TOKEN = "kept-vault-ops-" + uuid.uuid4().hex
_token_dir = tempfile.mkdtemp(prefix="coffer-kept-")
TOKEN_FILE = os.path.join(_token_dir, "ops.token")
with open(TOKEN_FILE, "w") as f:
    f.write(OPS_TOKEN + "\n")
OPS = {"Authorization": "Bearer " + OPS_TOKEN}

# One server per engine for the module: the randomized test refreshes the
# catalog, which no other module should see.
srv = mock_server(settings={"ops": {"token_file": TOKEN_FILE}}, catalog=True)

CONTAINERS = ["inventory", "bank", "equipment", "looting_bag"]
UNKNOWN = 2000000000            # an id no catalog has: name null, price 0


def verify(inst, body=None):
    r = requests.post(inst.admin_url + "/internal/vault/verify", json=body or {},
                      headers=OPS, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def admin(inst, path, body):
    r = requests.post(inst.admin_url + path, json=body, headers=OPS, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def name():
    return "k" + uuid.uuid4().hex[:11]


def pool():
    """Item ids to play with: some priced catalog items, and one unknown."""
    cat = catalog()
    priced = sorted(i for i, (_, price) in cat.items() if price > 0)
    rnd = random.Random(7)
    return rnd.sample(priced, 24) + [UNKNOWN]


class Client(threading.Thread):
    """One player doing random writes for a while, alone on its session."""

    seq = itertools.count(1)
    seq_lock = threading.Lock()

    def __init__(self, inst, player, groups, codes, items, rnd, steps, catalog_ops):
        super().__init__()
        self.inst, self.p, self.groups, self.codes = inst, player, groups, codes
        self.items, self.rnd, self.steps = items, rnd, steps
        self.catalog_ops = catalog_ops
        self.chars = [name() for _ in range(2)]
        self.errors = []
        self.counts = {}

    def next_seq(self):
        with Client.seq_lock:
            return next(Client.seq)

    def url(self, path):
        return self.inst.url + path

    def put(self):
        c, cont = self.rnd.choice(self.chars), self.rnd.choice(CONTAINERS)
        items = [{"id": i, "qty": self.rnd.randint(1, 5000)}
                 for i in self.rnd.sample(self.items, self.rnd.randint(0, 12))]
        if items and self.rnd.random() < 0.3:
            items.append(dict(items[0]))        # a repeated id is summed
        return requests.put(self.url(f"/api/v1/sync/characters/{c}/containers/{cont}"),
                            json={"seq": self.next_seq(), "items": items},
                            headers=self.p.bearer, timeout=TIMEOUT), (200,)

    def patch(self):
        c, cont = self.rnd.choice(self.chars), self.rnd.choice(CONTAINERS)
        changes = [{"id": i, "qty_delta": self.rnd.randint(-3000, 3000)}
                   for i in self.rnd.sample(self.items, self.rnd.randint(1, 6))]
        return requests.patch(self.url(f"/api/v1/sync/characters/{c}/containers/{cont}"),
                              json={"seq": self.next_seq(), "changes": changes},
                              headers=self.p.bearer, timeout=TIMEOUT), (200, 404, 422)

    def batch(self):
        seq = self.next_seq()
        conts = {cont: {"seq": seq, "items": [
            {"id": i, "qty": self.rnd.randint(1, 900)}
            for i in self.rnd.sample(self.items, self.rnd.randint(0, 8))]}
            for cont in self.rnd.sample(CONTAINERS, 2)}
        return requests.post(self.url("/api/v1/sync/batch"),
                             json={"character": self.rnd.choice(self.chars),
                                   "containers": conts},
                             headers=self.p.bearer, timeout=TIMEOUT), (200,)

    def share(self):
        gid = self.rnd.choice(self.groups)
        chars = self.rnd.sample(self.chars, self.rnd.randint(0, len(self.chars)))
        return self.p.put(f"/api/v1/groups/{gid}/members/me",
                          {"characters": chars}), (200, 404)

    def leave(self):
        gid = self.rnd.choice(self.groups)
        return self.p.post(f"/api/v1/groups/{gid}/leave"), (204, 404, 409)

    def rejoin(self):
        gid = self.rnd.choice(self.groups)
        chars = self.rnd.sample(self.chars, self.rnd.randint(0, len(self.chars)))
        return self.p.join(self.codes[gid], chars), (200, 201, 409, 422)

    def recreate(self):
        """Delete a character (it leaves every vault) and link it again."""
        c = self.rnd.choice(self.chars)
        r = requests.delete(self.url(f"/api/v1/sync/characters/{c}"),
                            headers=self.p.bearer, timeout=TIMEOUT)
        if r.status_code not in (204, 404):
            return r, (204,)
        self.p.link(c)
        return r, (r.status_code,)

    def reprice(self):
        """A small catalog with fresh prices, or back to an older one."""
        if self.rnd.random() < 0.5 and self.catalog_ops:
            r = requests.post(self.inst.admin_url + "/internal/catalog/rollback",
                              json={"snapshot_id": self.rnd.choice(self.catalog_ops)},
                              headers=OPS, timeout=60)
            return r, (200,)
        known = self.rnd.sample(self.items[:-1], 16)
        items = [{"id": i, "name": f"Kept {i} {self.rnd.choice('aBc')}", "members": True,
                  "tradeable": True, "stackable": True, "highalch": 0,
                  "price": self.rnd.randint(0, 2147483647)} for i in known]
        r = requests.post(self.inst.admin_url + "/internal/catalog/refresh",
                          json={"version": "kept-" + uuid.uuid4().hex[:6], "items": items},
                          headers=OPS, timeout=60)
        if r.status_code == 200:
            self.catalog_ops.append(r.json()["snapshot_id"])
        return r, (200,)

    def run(self):
        ops = ([self.put] * 6 + [self.patch] * 3 + [self.batch] * 2 + [self.share] * 2 +
               [self.leave, self.rejoin, self.rejoin, self.recreate])
        try:
            for c in self.chars:
                self.p.link(c)
            for step in range(self.steps):
                op = self.rnd.choice(ops)
                if step % 25 == 24 and self.rnd.random() < 0.5:
                    op = self.reprice
                r, ok = op()
                self.counts[op.__name__] = self.counts.get(op.__name__, 0) + 1
                if r.status_code not in ok:
                    self.errors.append((op.__name__, r.status_code, r.text))
        except Exception as e:          # reported by the test, not lost
            self.errors.append(("exception", repr(e)))


def test_randomized_concurrent_writes_leave_no_difference(srv):
    items = pool()
    owners = [Player(srv, "kowner" + uuid.uuid4().hex[:6], "Owner") for _ in range(3)]
    groups, codes = [], {}
    for i, o in enumerate(owners):
        g = o.create_group(f"Kept {i}")
        groups.append(g["id"])
        codes[g["id"]] = g["join_code"]
    players = [Player(srv, "kp" + uuid.uuid4().hex[:8], f"P{i}") for i in range(6)]
    catalog_ops = []
    clients = [Client(srv, p, groups, codes, items, random.Random(1000 + i), 90, catalog_ops)
               for i, p in enumerate(players + owners)]
    # The owners never leave (they would have to transfer first): they sync.
    for c in clients[len(players):]:
        c.leave = c.rejoin = c.share = c.put
    for c in clients:
        c.start()
    for c in clients:
        c.join(timeout=600)
    errors = [e for c in clients for e in c.errors]
    assert not errors, errors[:10]
    done = {}
    for c in clients:
        for k, n in c.counts.items():
            done[k] = done.get(k, 0) + n
    print(f"\n{srv.engine}: {done}")

    result = verify(srv)
    assert result["differ"] == [] and result["checked"] >= len(groups), result

    # The pages agree with the kept totals: every item once, the count
    # and total the first page says.
    for gid in groups:
        doc = owners[groups.index(gid)].get(f"/api/v1/groups/{gid}/vault").json()
        seen, cursor = [], None
        while True:
            params = {"limit": 7, "sort": "name", "order": "asc"}
            if cursor:
                params["cursor"] = cursor
            page = owners[groups.index(gid)].get(f"/api/v1/groups/{gid}/vault",
                                                 params=params).json()
            seen += [(it["id"], it["qty"]) for it in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == doc["item_count"], gid
        for it in doc["items"]:
            assert it["qty"] == sum(h["qty"] for h in it["holders"]), it


def test_the_verifier_sees_a_difference(srv):
    p = Player(srv, "kcorrupt" + uuid.uuid4().hex[:6], "Corrupt")
    c = name()
    p.link(c)
    p.sync(c, "bank", [(995, 1000), (4151, 2)], seq=1)
    gid = p.create_group("Corrupted", [c])["id"]
    assert verify(srv, {"group_id": gid}) == {"checked": 1, "differ": []}

    # One kept quantity off by one: that group, and only it.
    db_sql(srv, f"UPDATE vault_items SET qty = qty + 1 WHERE group_id = {gid} "
                "AND container = 'bank' AND item_id = 995")
    assert verify(srv, {"group_id": gid}) == {"checked": 1, "differ": [gid]}
    assert gid in verify(srv)["differ"]
    # A holder missing, and a total off, are differences too.
    db_sql(srv, f"UPDATE vault_items SET qty = qty - 1 WHERE group_id = {gid} "
                "AND container = 'bank' AND item_id = 995")
    assert verify(srv, {"group_id": gid})["differ"] == []
    db_sql(srv, f"DELETE FROM vault_holders WHERE group_id = {gid} AND item_id = 4151")
    assert verify(srv, {"group_id": gid})["differ"] == [gid]
    db_sql(srv, f"DELETE FROM vault_totals WHERE group_id = {gid}")
    assert verify(srv, {"group_id": gid})["differ"] == [gid]
    # Cleaned up: the group goes, with its kept rows.
    assert p.delete(f"/api/v1/groups/{gid}").status_code == 204
    assert verify(srv, {"group_id": gid}) == {"checked": 0, "differ": []}


def test_the_verifier_is_an_ops_route(srv):
    # Not on the main listener at all.
    r = requests.post(srv.url + "/internal/vault/verify", json={}, timeout=TIMEOUT)
    assert r.status_code == 404
    # The admin listener wants the ops token.
    r = requests.post(srv.admin_url + "/internal/vault/verify", json={}, timeout=TIMEOUT)
    assert_error(r, 401, "unauthorized")
    r = requests.post(srv.admin_url + "/internal/vault/verify", json={},
                      headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT)
    assert_error(r, 401, "unauthorized")
    # Its body: {} or {"group_id": N}, nothing else.
    for body in ({"group_id": 0}, {"group_id": "1"}, {"group": 1}, []):
        r = requests.post(srv.admin_url + "/internal/vault/verify", json=body,
                          headers=OPS, timeout=TIMEOUT)
        assert r.status_code in (400, 422), (body, r.status_code, r.text)
