"""Exact numbers in the vault (docs/API.md "Numbers"), on both engines.

Prices go up to 2^31 - 1 and so does each holding, but a vault item's qty
is summed over every holder, so qty x price, and any total, may pass
2^63 - 1.  Every value and total is then answered as 9223372036854775807
with "saturated": true on the object, never a 500, a float or a silently
clamped number; just below the limit the answer is exact.  Expected
values are computed with Python's integers, which do not overflow.

The server loads its own small catalog (POST /internal/catalog/refresh on
the admin listener) with prices at the limit; every test logs in fresh
users, so the tests of the module share one server.
"""
import pytest
import requests

from client import TIMEOUT, Account, mock_server

MAX = 2**63 - 1
TOP = 2**31 - 1                 # the largest price and holding

# Ids 1001-1005 cost TOP each, 1006 costs 1 and 1007 costs 3.
PRICEY = [1001, 1002, 1003, 1004, 1005]
CHEAP, TRIPLE = 1006, 1007
PRICE = {**{i: TOP for i in PRICEY}, CHEAP: 1, TRIPLE: 3}

inst = mock_server(catalog=True)


@pytest.fixture(scope="module")
def srv(inst):
    """The server, with the test catalog current (loaded once)."""
    items = [{"id": i, "name": f"Item {i}", "members": True, "tradeable": True,
              "stackable": True, "highalch": 0, "price": p}
             for i, p in sorted(PRICE.items())]
    r = requests.post(inst.admin_url + "/internal/catalog/refresh",
                      json={"version": "numbers-1", "items": items}, timeout=30)
    assert r.status_code == 200, r.text
    return inst


class Player(Account):
    """A user who links characters, syncs containers and reads the vault."""

    seq = 0

    def get(self, path, **kw):
        r = self.web.get(self.inst.url + path, timeout=TIMEOUT, **kw)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def post(self, path, body):
        r = self.web.post(self.inst.url + path, json=body, headers=self.csrf,
                          timeout=TIMEOUT)
        assert r.status_code in (200, 201), (path, r.status_code, r.text)
        return r.json()

    def link(self, *names):
        for name in names:
            r = requests.post(self.inst.url + "/api/v1/sync/characters",
                              json={"name": name}, headers=self.bearer,
                              timeout=TIMEOUT)
            assert r.status_code in (200, 201), r.text

    def sync(self, name, container, items):
        """PUT a container's full state; items is [(id, qty), ...]."""
        Player.seq += 1
        r = requests.put(
            f"{self.inst.url}/api/v1/sync/characters/{name}/containers/{container}",
            json={"seq": Player.seq, "items": [{"id": i, "qty": q} for i, q in items]},
            headers=self.bearer, timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["applied"], r.text


def answered(exact):
    """What the API answers for an exact value: (number, saturated)."""
    return (MAX, True) if exact > MAX else (exact, False)


def check(obj, key, exact, what):
    """obj[key] is exact as answered, and "saturated" is there iff clamped."""
    number, sat = answered(exact)
    assert obj[key] == number and isinstance(obj[key], int), (what, obj)
    assert obj.get("saturated", False) is sat, (what, obj)
    if not sat:
        assert "saturated" not in obj, (what, obj)


def vault_pages(p, gid, **params):
    """Every item id of the vault, following cursors, in order."""
    ids, cursor = [], None
    while True:
        q = dict(params)
        if cursor:
            q["cursor"] = cursor
        doc = p.get(f"/api/v1/groups/{gid}/vault", params=q)
        ids += [it["id"] for it in doc["items"]]
        cursor = doc["next_cursor"]
        if cursor is None:
            return ids


def test_values_and_totals_past_the_limit_saturate(srv):
    owner = Player(srv, "numowner", "Owner")
    other = Player(srv, "numother", "Other")
    owner.link("NumA", "NumB", "NumC")
    other.link("NumD")
    # Three holders of each pricey item at the top quantity: each value is
    # about 3 x 2^62; the first one also sits in NumA's inventory.
    held = {}                       # (character, container) -> {id: qty}
    for c in ("NumA", "NumB", "NumC"):
        held[(c, "bank")] = {**{i: TOP for i in PRICEY}, CHEAP: 5}
    held[("NumA", "inventory")] = {PRICEY[0]: TOP, TRIPLE: 7}
    # The other member alone stays just below the limit: 2 x TOP x TOP.
    held[("NumD", "bank")] = {PRICEY[0]: TOP, PRICEY[1]: TOP}
    for (c, cont), items in held.items():
        (other if c == "NumD" else owner).sync(c, cont, list(items.items()))
    group = owner.post("/api/v1/groups", {"name": "Numbers",
                                          "characters": ["NumA", "NumB", "NumC"]})
    gid = group["id"]
    other.post("/api/v1/groups/join", {"code": group["join_code"],
                                        "characters": ["NumD"]})

    qty = {}
    for items in held.values():
        for i, q in items.items():
            qty[i] = qty.get(i, 0) + q
    value = {i: q * PRICE[i] for i, q in qty.items()}
    total = sum(value.values())
    assert all(value[i] > MAX for i in PRICEY) and total > MAX

    # The vault page: every number as answered, the same for the plugin.
    doc = owner.get(f"/api/v1/groups/{gid}/vault")
    check(doc, "total_value", total, "vault")
    assert doc["item_count"] == len(qty)
    assert [it["id"] for it in doc["items"]] == PRICEY + [TRIPLE, CHEAP]
    for it in doc["items"]:
        assert it["qty"] == qty[it["id"]] and it["unit_price"] == PRICE[it["id"]]
        check(it, "value", value[it["id"]], it["id"])
    r = requests.get(f"{srv.url}/api/v1/sync/groups/{gid}/vault",
                     headers=owner.bearer, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == doc, r.text

    # A filter that keeps the total below the limit answers it exactly.
    inv = owner.get(f"/api/v1/groups/{gid}/vault", params={"container": "inventory"})
    check(inv, "total_value", TOP * TOP + 7 * 3, "inventory")
    check(inv["items"][0], "value", TOP * TOP, "inventory item")

    # Keyset pages visit every item once; clamped values tie, then go by id.
    for order in ("desc", "asc"):
        for limit in (1, 2):
            ids = vault_pages(owner, gid, sort="value", order=order, limit=limit)
            assert ids == (PRICEY + [TRIPLE, CHEAP] if order == "desc"
                           else [CHEAP, TRIPLE] + PRICEY), (order, limit)
    ids = vault_pages(owner, gid, sort="qty", limit=2)
    assert ids == PRICEY + [CHEAP, TRIPLE]

    # One item: its qty is the sum of every holding, its value clamped.
    one = owner.get(f"/api/v1/groups/{gid}/vault/items/{PRICEY[0]}")
    assert one["qty"] == qty[PRICEY[0]] and len(one["holders"]) == 5
    check(one, "value", value[PRICEY[0]], "item")
    one = owner.get(f"/api/v1/groups/{gid}/vault/items/{TRIPLE}")
    check(one, "value", 21, "cheap item")

    # The summary, by member and by container.
    summary = owner.get(f"/api/v1/groups/{gid}/vault/summary")
    check(summary, "total_value", total, "summary")
    members = {m["user_id"]: m for m in summary["members"]}
    assert [m["user_id"] for m in summary["members"]] == [owner.id, other.id]
    by_member = {owner.id: 0, other.id: 0}
    by_container = {}
    for (c, cont), items in held.items():
        v = sum(q * PRICE[i] for i, q in items.items())
        by_member[other.id if c == "NumD" else owner.id] += v
        by_container[cont] = by_container.get(cont, 0) + v
    for uid, v in by_member.items():
        check(members[uid], "total_value", v, ("member", uid))
    assert by_member[other.id] == 2 * TOP * TOP < MAX
    conts = {c["container"]: c for c in summary["containers"]}
    assert [c["container"] for c in summary["containers"]] == ["bank", "inventory"]
    for cont, v in by_container.items():
        check(conts[cont], "total_value", v, cont)

    # The Group's own summary.
    g = owner.get(f"/api/v1/groups/{gid}")
    check(g, "total_value", total, "group")
    assert g["item_count"] == len(qty)


def test_the_limit_itself_is_exact(srv):
    p = Player(srv, "numedge", "Edge")
    p.link("NumE1", "NumE2", "NumE3")
    # TOP x (2 TOP + 4) = 2^63 - 2, plus one coin's worth: exactly 2^63 - 1.
    p.sync("NumE1", "bank", [(PRICEY[0], TOP)])
    p.sync("NumE2", "bank", [(PRICEY[0], TOP)])
    p.sync("NumE3", "bank", [(PRICEY[0], 4), (CHEAP, 1)])
    gid = p.post("/api/v1/groups", {"name": "Edge",
                                    "characters": ["NumE1", "NumE2", "NumE3"]})["id"]
    value = TOP * (2 * TOP + 4)
    assert value == MAX - 1

    def totals():
        doc = p.get(f"/api/v1/groups/{gid}/vault")
        return [(doc, "vault"),
                (p.get(f"/api/v1/groups/{gid}/vault/summary"), "summary"),
                (p.get(f"/api/v1/groups/{gid}"), "group"),
                (doc["items"][0], "item"),
                (p.get(f"/api/v1/groups/{gid}/vault/items/{PRICEY[0]}"), "one")]

    for obj, what in totals():
        key = "value" if what in ("item", "one") else "total_value"
        check(obj, key, value if key == "value" else MAX, what)

    # One more coin: the total passes the limit by one and saturates.
    p.sync("NumE3", "bank", [(PRICEY[0], 4), (CHEAP, 2)])
    for obj, what in totals():
        key = "value" if what in ("item", "one") else "total_value"
        check(obj, key, value if key == "value" else MAX + 1, what)
    summary = p.get(f"/api/v1/groups/{gid}/vault/summary")
    check(summary["members"][0], "total_value", MAX + 1, "member")
    check(summary["containers"][0], "total_value", MAX + 1, "bank")

    # An empty page answers the totals of what matches: none.
    doc = p.get(f"/api/v1/groups/{gid}/vault", params={"q": "no such item"})
    check(doc, "total_value", 0, "empty")
    assert doc["items"] == [] and doc["item_count"] == 0
