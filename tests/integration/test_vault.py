"""The group vault through HTTP on a real cofferd, on both engines: the
onboarding flow end to end (log in, token, link characters, sync, create a
group, join it, read the vault), prices from the shipped catalog, every
sort key both ways with ties by id, the q and container filters, cursor
pagination without loss or repeats, one item's holders, the summary, the
plugin's routes and the bad-parameter corpus."""
import uuid

import pytest

from client import assert_error, mock_server
from groupkit import Player, catalog

# Ids chosen to exercise the catalog: several share a price (ties by id),
# one is missing from the catalog (name null, price 0).
UNKNOWN_ID = 999999


inst = mock_server(catalog=True)


def uniq(prefix):
    return prefix + uuid.uuid4().hex[:6]


def pick_items(n):
    """n catalog ids with a spread of prices, including ties."""
    cat = catalog()
    by_price = {}
    for i, (_, price) in sorted(cat.items()):
        by_price.setdefault(price, []).append(i)
    ids = []
    for price, group in sorted(by_price.items()):
        if len(group) >= 3 and 0 < price < 10**6 and len(ids) < n // 3:
            ids += group[:3]            # three items of one price: ties
    for i in sorted(cat):
        if len(ids) >= n:
            break
        if i not in ids and cat[i][1] > 0:
            ids.append(i)
    return ids[:n]


@pytest.fixture(scope="module")
def world(inst):
    """Two players with characters and synced containers, in one group."""
    a = Player(inst, uniq("va"), "Alice")
    b = Player(inst, uniq("vb"), "Bob")
    ca1, ca2, cb1 = uniq("A"), uniq("A"), uniq("B")
    for p, c in ((a, ca1), (a, ca2), (b, cb1)):
        p.link(c)
    ids = pick_items(60)
    holdings = {}                       # (character, container, id) -> qty

    def sync(p, c, container, items):
        p.sync(c, container, items)
        for i, q in items:
            holdings[(c, container, i)] = holdings.get((c, container, i), 0) + q

    sync(a, ca1, "bank", [(i, 10 + k) for k, i in enumerate(ids[:40])] +
         [(ids[0], 5), (UNKNOWN_ID, 3)])          # a duplicate entry is summed
    sync(a, ca1, "inventory", [(i, 1) for i in ids[30:45]])
    sync(a, ca2, "equipment", [(ids[2], 2)])
    sync(b, cb1, "bank", [(i, 100 - k) for k, i in enumerate(ids[20:60])])
    sync(b, cb1, "inventory", [(ids[5], 7), (UNKNOWN_ID, 1)])

    g = a.create_group("Vaulters", [ca1, ca2])
    r = b.join(g["join_code"], [cb1])
    assert r.status_code == 200, r.text
    return {"a": a, "b": b, "group": g, "holdings": holdings,
            "chars": {ca1: a, ca2: a, cb1: b}}


def expected(world, container=None, q=None):
    """The vault computed from what was synced: {id: item dict}."""
    cat = catalog()
    items = {}
    for (c, cont, i), qty in world["holdings"].items():
        if container and cont != container:
            continue
        name, price = cat.get(i, (None, 0))
        if q and (name is None or q.lower() not in name.lower()):
            continue
        it = items.setdefault(i, {"id": i, "name": name, "qty": 0, "unit_price": price,
                                  "holders": []})
        it["qty"] += qty
        it["holders"].append({"character": c, "container": cont, "qty": qty})
    for it in items.values():
        it["value"] = it["qty"] * it["unit_price"]
    return items


def sort_key(sort):
    return {
        "value": lambda it: it["value"],
        "qty": lambda it: it["qty"],
        "name": lambda it: (it["name"] or "").lower(),
        "id": lambda it: it["id"],
    }[sort]


def ordered(items, sort, order):
    """Expected order: the key in that direction, ties by id ascending."""
    key = sort_key(sort)
    out = sorted(items.values(), key=lambda it: it["id"])
    return sorted(out, key=key, reverse=(order == "desc"))


def vault(p, gid, **params):
    r = p.get(f"/api/v1/groups/{gid}/vault", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def all_pages(p, gid, **params):
    pages, cursor = [], None
    while True:
        if cursor:
            params["cursor"] = cursor
        page = vault(p, gid, **params)
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


def canon(item):
    h = sorted((x["character"], x["container"], x["qty"]) for x in item["holders"])
    return (item["id"], item["name"], item["qty"], item["unit_price"], item["value"], h)


# ---- the onboarding flow ----

def test_vault_sums_both_members_priced_from_catalog(world):
    a, b, gid = world["a"], world["b"], world["group"]["id"]
    exp = expected(world)
    for p in (a, b):
        v = vault(p, gid, limit=500)
        assert v["group_id"] == gid
        assert v["catalog_version"]
        assert v["next_cursor"] is None
        assert v["item_count"] == len(exp) == len(v["items"])
        assert v["total_value"] == sum(it["value"] for it in exp.values())
        got = {it["id"]: it for it in v["items"]}
        assert sorted(canon(it) for it in got.values()) == \
            sorted(canon(it) for it in exp.values())
    # The duplicate entry of ids[0] was summed; an id both members hold has
    # holders from each.
    shared = [it for it in v["items"]
              if len({world["chars"][h["character"]].id for h in it["holders"]}) == 2]
    assert shared


def test_unknown_item_has_null_name_and_zero_price(world):
    v = vault(world["a"], world["group"]["id"], limit=500)
    unk = [it for it in v["items"] if it["id"] == UNKNOWN_ID]
    assert len(unk) == 1
    assert unk[0]["name"] is None and unk[0]["unit_price"] == 0 and unk[0]["value"] == 0
    assert unk[0]["qty"] == 4


def test_group_summary_fields(world):
    a, gid = world["a"], world["group"]["id"]
    g = a.get(f"/api/v1/groups/{gid}").json()
    exp = expected(world)
    assert g["member_count"] == 2
    assert g["item_count"] == len(exp)
    assert g["total_value"] == sum(it["value"] for it in exp.values())
    assert g["last_sync_at"] and g["last_sync_at"].endswith("Z")


# ---- order, filters, pages ----

@pytest.mark.parametrize("sort", ["value", "qty", "name", "id"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_sort_orders_ties_by_id(world, sort, order):
    v = vault(world["a"], world["group"]["id"], sort=sort, order=order, limit=500)
    want = [it["id"] for it in ordered(expected(world), sort, order)]
    assert [it["id"] for it in v["items"]] == want


def test_default_order_is_value_desc(world):
    v = vault(world["a"], world["group"]["id"], limit=500)
    assert [it["id"] for it in v["items"]] == \
        [it["id"] for it in ordered(expected(world), "value", "desc")]
    assert len(vault(world["a"], world["group"]["id"])["items"]) == \
        min(100, len(expected(world)))


def test_filter_by_container(world):
    gid = world["group"]["id"]
    for cont in ("bank", "inventory", "equipment", "quiver"):
        v = vault(world["a"], gid, container=cont, limit=500)
        exp = expected(world, container=cont)
        assert v["item_count"] == len(exp)
        assert v["total_value"] == sum(it["value"] for it in exp.values())
        assert sorted(canon(it) for it in v["items"]) == \
            sorted(canon(it) for it in exp.values())


def test_filter_by_name_substring_ignoring_case(world):
    gid = world["group"]["id"]
    names = [it["name"] for it in expected(world).values() if it["name"]]
    word = sorted(names, key=len)[-1].split()[0][:4]
    # LIKE's pattern characters are plain characters in q.
    for q in (word.upper(), word.lower(), "%", "_", "\\", "zz%_\\nothing"):
        v = vault(world["a"], gid, q=q, limit=500)
        exp = expected(world, q=q)
        assert v["item_count"] == len(exp)
        assert sorted(it["id"] for it in v["items"]) == sorted(exp)
    assert vault(world["a"], gid, q=word)["item_count"] >= 1


@pytest.mark.parametrize("sort", ["value", "qty", "name", "id"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_cursor_pages_visit_every_item_once(world, sort, order):
    gid = world["group"]["id"]
    full = vault(world["a"], gid, sort=sort, order=order, limit=500)
    pages = all_pages(world["a"], gid, sort=sort, order=order, limit=7)
    seen = [it for page in pages for it in page["items"]]
    assert [canon(it) for it in seen] == [canon(it) for it in full["items"]]
    for page in pages:
        assert page["total_value"] == full["total_value"]
        assert page["item_count"] == full["item_count"]
        assert len(page["items"]) <= 7
    assert len(pages) == -(-full["item_count"] // 7)


def test_cursor_with_filters(world):
    gid = world["group"]["id"]
    full = vault(world["a"], gid, container="bank", sort="name", order="asc", limit=500)
    pages = all_pages(world["a"], gid, container="bank", sort="name", order="asc",
                      limit=3)
    assert [it["id"] for p in pages for it in p["items"]] == \
        [it["id"] for it in full["items"]]


def test_cursor_of_another_ordering_is_400(world):
    gid = world["group"]["id"]
    cursor = vault(world["a"], gid, sort="qty", limit=2)["next_cursor"]
    assert cursor
    r = world["a"].get(f"/api/v1/groups/{gid}/vault",
                       params={"sort": "value", "cursor": cursor})
    assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("params", [
    {"sort": "price"}, {"sort": ""}, {"order": "up"}, {"limit": "0"}, {"limit": "501"},
    {"limit": "ten"}, {"limit": "-1"}, {"limit": "1.5"}, {"container": "pocket"},
    {"cursor": "zz"}, {"cursor": "00"}, {"cursor": "abc"}, {"q": "x" * 101},
])
def test_bad_parameters_are_400(world, params):
    r = world["a"].get(f"/api/v1/groups/{world['group']['id']}/vault", params=params)
    assert_error(r, 400, "bad_request")


def test_limit_bounds_accepted(world):
    gid = world["group"]["id"]
    assert len(vault(world["a"], gid, limit=1)["items"]) == 1
    assert len(vault(world["a"], gid, limit=500)["items"]) == len(expected(world))


# ---- items, summary, the plugin, strangers ----

def test_item_holders_and_since(world):
    a, gid = world["a"], world["group"]["id"]
    exp = expected(world)
    item = max(exp.values(), key=lambda it: len(it["holders"]))
    r = a.get(f"/api/v1/groups/{gid}/vault/items/{item['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == item["id"] and body["name"] == item["name"]
    assert body["qty"] == item["qty"] and body["value"] == item["value"]
    assert sorted((h["character"], h["container"], h["qty"]) for h in body["holders"]) == \
        sorted((h["character"], h["container"], h["qty"]) for h in item["holders"])
    for h in body["holders"]:
        assert h["held_since"].endswith("Z")
        assert h["user_id"] == world["chars"][h["character"]].id
    # Nobody holds it: an empty list, still priced.
    r = a.get(f"/api/v1/groups/{gid}/vault/items/4151")
    assert r.status_code == 200 and r.json()["holders"] == [] and r.json()["qty"] == 0
    assert r.json()["name"] == catalog()[4151][0]
    for bad in ("abc", "-1", "01"):
        assert a.get(f"/api/v1/groups/{gid}/vault/items/{bad}").status_code == 404


def test_summary_by_member_and_container(world):
    a, gid = world["a"], world["group"]["id"]
    r = a.get(f"/api/v1/groups/{gid}/vault/summary")
    assert r.status_code == 200, r.text
    s = r.json()
    cat = catalog()
    by_member, by_cont = {}, {}
    for (c, cont, i), qty in world["holdings"].items():
        v = qty * cat.get(i, (None, 0))[1]
        uid = world["chars"][c].id
        by_member.setdefault(uid, [set(), 0])
        by_member[uid][0].add(i)
        by_member[uid][1] += v
        by_cont.setdefault(cont, [set(), 0])
        by_cont[cont][0].add(i)
        by_cont[cont][1] += v
    assert {m["user_id"]: (m["item_count"], m["total_value"]) for m in s["members"]} == \
        {u: (len(x[0]), x[1]) for u, x in by_member.items()}
    assert {c["container"]: (c["item_count"], c["total_value"]) for c in s["containers"]} == \
        {u: (len(x[0]), x[1]) for u, x in by_cont.items()}
    assert s["total_value"] == sum(m["total_value"] for m in s["members"])


def test_plugin_routes_with_bearer(world):
    b, gid = world["b"], world["group"]["id"]
    r = b.tget("/api/v1/sync/groups")
    assert r.status_code == 200, r.text
    assert gid in [g["id"] for g in r.json()["groups"]]
    r = b.tget(f"/api/v1/sync/groups/{gid}/vault", params={"limit": 5})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == vault(b, gid, limit=5)["items"]
    assert b.tget(f"/api/v1/groups/{gid}/vault").status_code == 200


def test_strangers_get_404(inst, world):
    c = Player(inst, uniq("vc"))
    gid = world["group"]["id"]
    for path in (f"/api/v1/groups/{gid}/vault", f"/api/v1/groups/{gid}/vault?sort=bad",
                 f"/api/v1/groups/{gid}/vault/items/4151",
                 f"/api/v1/groups/{gid}/vault/summary",
                 f"/api/v1/sync/groups/{gid}/vault",
                 "/api/v1/groups/999999999/vault"):
        r = c.get(path)
        assert_error(r, 404, "not_found", path)
    assert c.tget(f"/api/v1/sync/groups/{gid}/vault").status_code == 404
    assert c.tget("/api/v1/sync/groups").json() == {"groups": []}


def test_unauthenticated_is_401(inst, world):
    import requests
    r = requests.get(f"{inst.url}/api/v1/groups/{world['group']['id']}/vault", timeout=5)
    assert r.status_code == 401


def test_a_new_sync_shows_at_once(inst, world):
    """The vault is computed on read: a sync is visible on the next GET."""
    a, gid = world["a"], world["group"]["id"]
    c = [name for name, p in world["chars"].items() if p is a][1]
    before = vault(a, gid, limit=500)
    a.sync(c, "quiver", [(4151, 2)])
    after = vault(a, gid, limit=500)
    whip = [it for it in after["items"] if it["id"] == 4151]
    assert whip and whip[0]["qty"] == 2 and whip[0]["name"] == catalog()[4151][0]
    assert after["total_value"] == before["total_value"] + 2 * catalog()[4151][1]
    world["holdings"][(c, "quiver", 4151)] = 2
