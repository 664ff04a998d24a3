"""The item catalog: the default load on first start, refresh, rollback.

Every test runs on SQLite and on PostgreSQL.  "Nothing changed" is checked
in the database itself (sqlite3 / psql): the number of snapshots and the
current one are the same before and after a rejected request.
"""
import json
import time

import pytest

from client import assert_error
from client import db_sql as sql

DEFAULT_VERSION = "oldschooljs-2.6.1"
DEFAULT_COUNT = 12617
JSON_HEADERS = {"Content-Type": "application/json"}



def state(inst):
    """(number of snapshots, current id, current version, its item rows)."""
    n = int(sql(inst, "SELECT count(*) FROM catalog_snapshots"))
    cur = sql(inst, "SELECT id, version FROM catalog_snapshots WHERE is_current")
    cid, version = cur.split("|") if cur else (None, None)
    items = int(sql(inst, "SELECT count(*) FROM catalog_items WHERE snapshot_id ="
                          " (SELECT id FROM catalog_snapshots WHERE is_current)"))
    return n, cid and int(cid), version, items


def started(inst):
    """Wait until worker 1 finished its start-up tasks."""
    inst.wait_log(r"startup: tasks done", timeout=30)
    return inst


def restart(inst):
    """Stop and start the same instance on the same database."""
    assert inst.stop() == 0
    dbname, inst.dbname = inst.dbname, None     # the database already exists
    try:
        inst.start()
    finally:
        inst.dbname = dbname
    inst.wait_ready()


def item(i, **kw):
    it = {"id": i, "name": f"Item {i}", "members": False, "tradeable": True,
          "stackable": False, "highalch": 10, "price": 100 + i}
    it.update(kw)
    return it


def catalog(version, n=3, **kw):
    return {"version": version, "items": [item(i) for i in range(n)], **kw}


def refresh(inst, body, **kw):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    kw.setdefault("headers", JSON_HEADERS)
    return inst.post("/internal/catalog/refresh", admin=True, data=data, **kw)


def rollback(inst, body, **kw):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    kw.setdefault("headers", JSON_HEADERS)
    return inst.post("/internal/catalog/rollback", admin=True, data=data, **kw)


@pytest.fixture(scope="module")
def srv(server):
    return started(server)


def test_default_catalog_loaded_on_first_start_only(cofferd, engine):
    inst = started(cofferd(engine))
    m = inst.wait_log(r"catalog: loaded default catalog (\S+) \((\d+) items\)"
                      r" as snapshot (\d+) in (\d+) ms")
    print(f"\n{engine}: default catalog loaded at start-up in {m.group(4)} ms")
    assert m.group(1) == DEFAULT_VERSION and int(m.group(2)) == DEFAULT_COUNT
    assert state(inst) == (1, int(m.group(3)), DEFAULT_VERSION, DEFAULT_COUNT)
    name = sql(inst, "SELECT name FROM catalog_items WHERE item_id = 4151 AND snapshot_id ="
                     " (SELECT id FROM catalog_snapshots WHERE is_current)")
    assert name == "Abyssal whip"

    mark = inst.log_mark()
    restart(inst)
    inst.wait_log(r"catalog: a snapshot exists; default catalog not loaded", since=mark)
    assert state(inst) == (1, int(m.group(3)), DEFAULT_VERSION, DEFAULT_COUNT)


def test_refresh_then_rollback(srv):
    n0, first, version, _ = state(srv)
    assert version == DEFAULT_VERSION

    r = refresh(srv, catalog("t-1", 3, source="test"))
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["version"] == "t-1" and one["item_count"] == 3
    assert isinstance(one["snapshot_id"], int)
    assert state(srv) == (n0 + 1, one["snapshot_id"], "t-1", 3)

    r = refresh(srv, catalog("t-2", 5))
    assert r.status_code == 200, r.text
    two = r.json()
    assert two["snapshot_id"] > one["snapshot_id"] and two["item_count"] == 5
    assert state(srv) == (n0 + 2, two["snapshot_id"], "t-2", 5)

    r = rollback(srv, {"snapshot_id": first})
    assert r.status_code == 200, r.text
    assert r.json() == {"snapshot_id": first, "version": DEFAULT_VERSION,
                        "item_count": DEFAULT_COUNT}
    assert state(srv) == (n0 + 2, first, DEFAULT_VERSION, DEFAULT_COUNT)

    r = rollback(srv, {"snapshot_id": one["snapshot_id"]})
    assert r.status_code == 200 and r.json() == one
    assert state(srv) == (n0 + 2, one["snapshot_id"], "t-1", 3)

    before = state(srv)
    r = rollback(srv, {"snapshot_id": 987654321})
    assert_error(r, 404, "not_found")
    assert state(srv) == before

    assert rollback(srv, {"snapshot_id": first}).status_code == 200


def test_refresh_full_catalog_timing(srv, engine):
    """The shipped catalog through the API; reports the time it takes."""
    with open(srv.settings["catalog"]["path"], "rb") as f:
        body = f.read()
    n0, first, _, _ = state(srv)
    t0 = time.monotonic()
    r = refresh(srv, body, timeout=60)
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert r.json()["item_count"] == DEFAULT_COUNT
    print(f"\n{engine}: POST /internal/catalog/refresh of {DEFAULT_COUNT} items"
          f" took {took * 1000:.0f} ms")
    assert state(srv) == (n0 + 1, r.json()["snapshot_id"], DEFAULT_VERSION, DEFAULT_COUNT)
    assert rollback(srv, {"snapshot_id": first}).status_code == 200


BAD_ITEMS = [
    ("id", {"id": None}),
    ("id", {"id": -1}),
    ("id", {"id": 2147483648}),
    ("id", {"id": "7"}),
    ("id", {"id": 1.5}),
    ("id", {"id": 0}),                  # a duplicate of items[0]
    ("name", {"name": None}),
    ("name", {"name": 12}),
    ("name", {"name": ""}),
    ("members", {"members": "yes"}),
    ("tradeable", {"tradeable": 1}),
    ("stackable", {"stackable": None}),
    ("highalch", {"highalch": -5}),
    ("highalch", {"highalch": "5"}),
    ("price", {"price": -1}),
    ("price", {"price": 2.5}),
    ("price", {"price": None}),
    ("colour", {"colour": "red"}),      # unknown field
]


@pytest.mark.parametrize("field,change", BAD_ITEMS,
                         ids=[f"{f}={json.dumps(c[next(iter(c))])}" for f, c in BAD_ITEMS])
def test_refresh_bad_item_changes_nothing(srv, field, change):
    before = state(srv)
    doc = catalog("bad", 4)
    bad = dict(doc["items"][1])
    bad.update(change)
    doc["items"][1] = {k: v for k, v in bad.items() if v is not None}
    r = refresh(srv, doc)
    assert_error(r, 422, "invalid")
    err = r.json()["error"]
    assert "items[1]" in err["message"] and field in err["message"], err
    assert state(srv) == before


@pytest.mark.parametrize("body,status,word", [
    ({"items": [item(1)]}, 422, "version"),
    ({"version": "", "items": [item(1)]}, 422, "version"),
    ({"version": 3, "items": [item(1)]}, 422, "version"),
    ({"version": "v"}, 422, "items"),
    ({"version": "v", "items": {}}, 422, "items"),
    ({"version": "v", "items": []}, 422, "items"),
    ({"version": "v", "items": [item(1), 5]}, 422, "items[1]"),
    ({"version": "v", "source": 5, "items": [item(1)]}, 422, "source"),
    ({"version": "v", "items": [item(1)], "extra": 1}, 422, "extra"),
    ("{\"version\": \"v\", \"items\": [", 400, None),
    ("[]", 400, None),
    ("", 400, None),
])
def test_refresh_bad_document_changes_nothing(srv, body, status, word):
    before = state(srv)
    r = refresh(srv, body)
    assert r.status_code == status, r.text
    if word:
        assert word in r.json()["error"]["message"]
    assert state(srv) == before


def test_refresh_wrong_content_type(srv):
    before = state(srv)
    r = refresh(srv, json.dumps(catalog("ct")), headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    assert state(srv) == before


@pytest.mark.parametrize("body,headers,status", [
    ("{\"snapshot_id\": ", JSON_HEADERS, 400),
    (json.dumps({"snapshot_id": 1}), {"Content-Type": "text/plain"}, 415),
    (json.dumps({"snapshot_id": 1, "force": True}), JSON_HEADERS, 422),
    (json.dumps({"snapshot_id": "1"}), JSON_HEADERS, 422),
    (json.dumps({"snapshot_id": 0}), JSON_HEADERS, 422),
    (json.dumps({}), JSON_HEADERS, 422),
])
def test_rollback_bad_input_changes_nothing(srv, body, headers, status):
    # Make something other than the first snapshot current, so a rollback
    # that wrongly went through would show.
    r = refresh(srv, catalog("rb", 2))
    assert r.status_code == 200
    before = state(srv)
    r = rollback(srv, body, headers=headers)
    assert r.status_code == status, r.text
    assert state(srv) == before


def test_catalog_routes_only_on_admin_listener(srv):
    r = srv.post("/internal/catalog/refresh", data=json.dumps(catalog("x")),
                 headers=JSON_HEADERS)
    assert r.status_code == 404
