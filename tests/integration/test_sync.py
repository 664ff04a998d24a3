"""The plugin sync API through HTTP on a real cofferd, on both engines:
linking characters, container PUT/PATCH/GET with seq ordering, racing
updates, batches (all or nothing), skills, plugin events, state,
heartbeat, the catalog, and the bad-input corpus of every route, each
rejected request checked to have written nothing."""
import threading
import time
import urllib.parse

import pytest
import requests

from client import assert_error, mock_server
from client import db_sql as sql
from sessions import User, char_name, make_group

MAX_ITEMS = 2000        # [limits] max_container_items (the default, set explicitly)

srv = mock_server({"limits": {"max_container_items": MAX_ITEMS},
                   "database": {"pool_max": 4}})


@pytest.fixture
def alice(srv):
    return User(srv)


def cpath(name, container="bank"):
    return (f"/api/v1/sync/characters/{urllib.parse.quote(name)}"
            f"/containers/{container}")


def items_of(user, name, container="bank"):
    r = user.get(cpath(name, container))
    assert r.status_code == 200, r.text
    return {i["id"]: i["qty"] for i in r.json()["items"]}, r.json()["seq"]


def db_counts(inst):
    """Row counts of everything a sync writes."""
    return sql(inst, "SELECT (SELECT count(*) FROM characters) || ',' || "
                     "(SELECT count(*) FROM containers) || ',' || "
                     "(SELECT count(*) FROM container_items) || ',' || "
                     "(SELECT count(*) FROM skills) || ',' || "
                     "(SELECT count(*) FROM activity) || ',' || "
                     "(SELECT count(*) FROM presence)")


# ---- characters ----

def test_link_character_201_200_409(srv, alice):
    bob = User(srv)
    name = "Zez " + char_name()[:7]
    r = alice.post("/api/v1/sync/characters", {"name": name})
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["name"] == name and isinstance(c["id"], int)
    assert c["created_at"].endswith("Z") and c["last_sync_at"] is None
    r = alice.post("/api/v1/sync/characters", {"name": name.upper()})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == c["id"] and r.json()["name"] == name
    assert_error(bob.post("/api/v1/sync/characters", {"name": name.lower()}),
                 409, "conflict")
    r = alice.get("/api/v1/sync/characters")
    assert r.status_code == 200
    assert [x["name"] for x in r.json()["characters"]] == [name]
    # The web session reads too.
    r = alice.web.get(srv.url + "/api/v1/sync/characters")
    assert r.status_code == 200 and len(r.json()["characters"]) == 1
    assert bob.get("/api/v1/sync/characters").json() == {"characters": []}


@pytest.mark.parametrize("name", ["", "x" * 13, "bad!name", "tab\tname", "émile", "a/b"])
def test_link_character_bad_names(srv, alice, name):
    before = db_counts(srv)
    assert_error(alice.post("/api/v1/sync/characters", {"name": name}), 422, "invalid")
    assert db_counts(srv) == before


def test_sync_needs_a_token(srv, alice):
    assert_error(requests.get(srv.url + "/api/v1/sync/characters"), 401, "unauthorized")
    # A web session may read but not write plugin state: it is no
    # credential for the plugin's writes.
    r = alice.web.post(srv.url + "/api/v1/sync/characters", json={"name": "websess"},
                       headers=alice.csrf)
    assert_error(r, 401, "unauthorized")
    assert alice.get("/api/v1/sync/characters").json() == {"characters": []}


def test_delete_character_deletes_its_data(srv, alice):
    name = char_name()
    alice.character(name)
    assert alice.put(cpath(name), {"seq": 1, "items": [{"id": 1, "qty": 1}]}).status_code == 200
    bob = User(srv)
    assert_error(bob.delete(f"/api/v1/sync/characters/{name}"), 404, "not_found")
    r = alice.delete(f"/api/v1/sync/characters/{name.upper()}")
    assert r.status_code == 204, r.text
    assert_error(alice.get(cpath(name)), 404, "not_found")
    assert alice.get("/api/v1/sync/characters").json() == {"characters": []}
    assert sql(srv, "SELECT count(*) FROM containers WHERE character_id NOT IN "
                    "(SELECT id FROM characters)") == "0"
    assert_error(alice.delete(f"/api/v1/sync/characters/{name}"), 404, "not_found")


# ---- containers ----

def test_put_then_get_sums_duplicates(srv, alice):
    name = "Lynx " + char_name()[:7]
    alice.character(name)
    body = {"seq": 5, "items": [{"id": 4151, "qty": 1}, {"id": 995, "qty": 1000},
                                {"id": 4151, "qty": 1}, {"id": 0, "qty": 2147483647}]}
    r = alice.put(cpath(name), body)
    assert r.status_code == 200, r.text
    assert r.json() == {"applied": True, "seq": 5, "item_count": 3,
                        "added": 3, "removed": 0, "changed": 0}
    r = alice.get(cpath(name))
    got = r.json()
    assert got["container"] == "bank" and got["seq"] == 5
    assert got["items"] == [{"id": 0, "qty": 2147483647}, {"id": 995, "qty": 1000},
                            {"id": 4151, "qty": 2}]
    assert got["updated_at"].endswith("Z")
    c = alice.get("/api/v1/sync/characters").json()["characters"][0]
    assert c["last_sync_at"] is not None
    # Another container is separate and never synced.
    assert_error(alice.get(cpath(name, "inventory")), 404, "not_found")


def test_seq_ordering_and_counts(srv, alice):
    name = char_name()
    alice.character(name)
    r = alice.put(cpath(name), {"seq": 10, "items": [{"id": 1, "qty": 1}, {"id": 2, "qty": 2},
                                                     {"id": 3, "qty": 3}]})
    assert r.json()["applied"] is True
    # Older and equal seqs change nothing; a retry is harmless.
    for seq in (9, 10, 0):
        r = alice.put(cpath(name), {"seq": seq, "items": []})
        assert r.status_code == 200 and r.json() == {"applied": False, "seq": 10}
    assert items_of(alice, name) == ({1: 1, 2: 2, 3: 3}, 10)
    r = alice.put(cpath(name), {"seq": 11, "items": [{"id": 2, "qty": 2}, {"id": 3, "qty": 30},
                                                     {"id": 4, "qty": 4}, {"id": 5, "qty": 5}]})
    assert r.json() == {"applied": True, "seq": 11, "item_count": 4,
                        "added": 2, "removed": 1, "changed": 1}
    r = alice.put(cpath(name), {"seq": 11, "items": []})
    assert r.json() == {"applied": False, "seq": 11}
    assert items_of(alice, name) == ({2: 2, 3: 30, 4: 4, 5: 5}, 11)
    r = alice.put(cpath(name), {"seq": 12, "items": []})
    assert r.json()["removed"] == 4 and r.json()["item_count"] == 0
    assert items_of(alice, name) == ({}, 12)


def test_full_bank_round_trip(srv, alice):
    """A full bank, then a sync that changes a third of it."""
    name = char_name()
    cid = alice.character(name)
    make_group(srv, alice, {alice: [cid]})
    bank = [{"id": i, "qty": i + 1} for i in range(MAX_ITEMS)]
    t0 = time.monotonic()
    r = alice.put(cpath(name), {"seq": 1, "items": bank})
    assert r.status_code == 200 and r.json()["added"] == MAX_ITEMS, r.text
    new = [{"id": i, "qty": i + (2 if i % 3 == 0 else 1)} for i in range(MAX_ITEMS)
           if i % 3 != 1] + [{"id": 100000 + i, "qty": 1} for i in range(300)]
    r = alice.put(cpath(name), {"seq": 2, "items": new})
    assert r.status_code == 200, r.text
    assert r.json() == {"applied": True, "seq": 2, "item_count": len(new),
                        "added": 300, "removed": 667, "changed": 667}
    assert time.monotonic() - t0 < 5
    got, seq = items_of(alice, name)
    assert seq == 2 and got == {i["id"]: i["qty"] for i in new}


def test_container_of_someone_else_is_404(srv, alice):
    bob = User(srv)
    name = char_name()
    alice.character(name)
    before = db_counts(srv)
    assert_error(bob.put(cpath(name), {"seq": 1, "items": []}), 404, "not_found")
    assert_error(bob.get(cpath(name)), 404, "not_found")
    assert_error(bob.patch(cpath(name), {"seq": 1, "changes": []}), 404, "not_found")
    assert_error(alice.put(cpath("nobody"), {"seq": 1, "items": []}), 404, "not_found")
    assert_error(alice.put(cpath(name, "pockets"), {"seq": 1, "items": []}),
                 404, "not_found")
    assert db_counts(srv) == before


def test_patch_deltas(srv, alice):
    name = char_name()
    alice.character(name)
    assert_error(alice.patch(cpath(name), {"seq": 1, "changes": [{"id": 1, "qty_delta": 1}]}),
                 404, "not_found")
    assert_error(alice.get(cpath(name)), 404, "not_found")
    alice.put(cpath(name), {"seq": 1, "items": [{"id": 1, "qty": 10}, {"id": 2, "qty": 5}]})
    r = alice.patch(cpath(name), {"seq": 2, "changes": [
        {"id": 1, "qty_delta": -3}, {"id": 2, "qty_delta": -5}, {"id": 3, "qty_delta": 7},
        {"id": 3, "qty_delta": 1}, {"id": 4, "qty_delta": -1}]})
    assert r.status_code == 200, r.text
    assert r.json() == {"applied": True, "seq": 2, "item_count": 2,
                        "added": 1, "removed": 1, "changed": 1}
    assert items_of(alice, name) == ({1: 7, 3: 8}, 2)
    r = alice.patch(cpath(name), {"seq": 2, "changes": [{"id": 1, "qty_delta": 1}]})
    assert r.json() == {"applied": False, "seq": 2}
    # Overflow of a stored quantity: 422, nothing changes.
    assert_error(alice.patch(cpath(name), {"seq": 3, "changes": [
        {"id": 1, "qty_delta": 2147483647}]}), 422, "invalid")
    assert items_of(alice, name) == ({1: 7, 3: 8}, 2)
    # More distinct items than the limit: 422.
    many = [{"id": 100 + i, "qty_delta": 1} for i in range(MAX_ITEMS - 1)]
    assert_error(alice.patch(cpath(name), {"seq": 3, "changes": many}), 422, "invalid")
    assert items_of(alice, name) == ({1: 7, 3: 8}, 2)


def test_racing_puts_keep_the_highest_seq(srv, alice):
    name = char_name()
    alice.character(name)
    results, lock = [], threading.Lock()

    def put(seq):
        body = {"seq": seq, "items": [{"id": seq, "qty": seq}, {"id": 1000, "qty": seq}]}
        r = alice.put(cpath(name), body)
        with lock:
            results.append((seq, r.status_code, r.text))

    threads = [threading.Thread(target=put, args=(s,)) for s in range(1, 21)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    for seq, status, text in results:
        assert status in (200, 503), (seq, status, text)
    ok = [s for s, status, _ in results if status == 200]
    top = max(ok)
    assert items_of(alice, name) == ({top: top, 1000: top}, top)
    assert int(sql(srv, "SELECT count(*) FROM container_items ci JOIN characters c "
                        f"ON c.id = ci.character_id WHERE c.name = '{name}'")) == 2


PUT_BAD = [
    # (raw body, headers, status, code)
    ("{", None, 400, "bad_request"),
    ('{"seq": 1, "items": []', None, 400, "bad_request"),
    (b'{"seq": 1, "items": [], "x": "\xff"}', None, 400, "bad_request"),
    ('[1]', None, 400, "bad_request"),
    ('{"seq": 1, "items": []}', {"Content-Type": "text/plain"}, 415,
     "unsupported_media_type"),
    ('{"seq": "1", "items": []}', None, 422, "invalid"),
    ('{"seq": -1, "items": []}', None, 422, "invalid"),
    ('{"seq": 1.5, "items": []}', None, 422, "invalid"),
    ('{"items": []}', None, 422, "invalid"),
    ('{"seq": 1}', None, 422, "invalid"),
    ('{"seq": 1, "items": {}}', None, 422, "invalid"),
    ('{"seq": 1, "items": [], "extra": 1}', None, 422, "invalid"),
    ('{"seq": 1, "items": [1]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": 1}]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": 1, "qty": 0}]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": 1, "qty": 2147483648}]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": -1, "qty": 1}]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": 2147483648, "qty": 1}]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": 1, "qty": 1, "name": "x"}]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": 1, "qty": 2147483647}, {"id": 1, "qty": 1}]}', None,
     422, "invalid"),
    ('{"seq": 1, "items": [{"id": "1", "qty": 1}]}', None, 422, "invalid"),
    ('{"seq": 1, "items": [{"id": 1, "qty": true}]}', None, 422, "invalid"),
    ("[" * 40 + "]" * 40, None, 400, "bad_request"),
]


@pytest.mark.parametrize("raw,headers,status,code", PUT_BAD)
def test_put_bad_input_changes_nothing(srv, alice, raw, headers, status, code):
    name = char_name()
    alice.character(name)
    alice.put(cpath(name), {"seq": 1, "items": [{"id": 7, "qty": 7}]})
    before = db_counts(srv)
    raw = raw.replace('"seq": 1', '"seq": 2') if isinstance(raw, str) else raw
    r = alice.put(cpath(name), raw=raw, headers=headers)
    assert_error(r, status, code)
    assert db_counts(srv) == before
    assert items_of(alice, name) == ({7: 7}, 1)


def test_put_too_many_items_and_too_large(srv, alice):
    name = char_name()
    alice.character(name)
    many = [{"id": i, "qty": 1} for i in range(MAX_ITEMS + 1)]
    r = alice.put(cpath(name), {"seq": 1, "items": many})
    assert_error(r, 422, "invalid")
    assert "items" in r.json()["error"]["message"]
    # Duplicates of one id count as entries too.
    r = alice.put(cpath(name), {"seq": 1, "items": [{"id": 1, "qty": 1}] * (MAX_ITEMS + 1)})
    assert_error(r, 422, "invalid")
    r = alice.put(cpath(name), {"seq": 1, "items": many[:MAX_ITEMS]})
    assert r.status_code == 200 and r.json()["item_count"] == MAX_ITEMS
    big = '{"seq": 2, "items": [], "pad": "' + "x" * (1024 * 1024 + 10) + '"}'
    # refused before any handler runs, in the documented error shape
    r = alice.put(cpath(name), raw=big)
    assert_error(r, 413, "payload_too_large")
    assert items_of(alice, name)[1] == 1


PATCH_BAD = [
    ('{"seq": 2, "items": []}', 422),
    ('{"seq": 2, "changes": [{"id": 1, "qty": 1}]}', 422),
    ('{"seq": 2, "changes": [{"id": 1, "qty_delta": 2147483648}]}', 422),
    ('{"seq": 2, "changes": [{"id": 1, "qty_delta": -2147483648}]}', 422),
    ('{"seq": 2, "changes": [{"qty_delta": 1}]}', 422),
    ('{"seq": 2, "changes": null}', 422),
    ('{"seq": 2, "changes": [', 400),
]


@pytest.mark.parametrize("raw,status", PATCH_BAD)
def test_patch_bad_input_changes_nothing(srv, alice, raw, status):
    name = char_name()
    alice.character(name)
    alice.put(cpath(name), {"seq": 1, "items": [{"id": 1, "qty": 1}]})
    before = db_counts(srv)
    r = alice.patch(cpath(name), raw=raw)
    assert_error(r, status, "invalid" if status == 422 else "bad_request")
    assert db_counts(srv) == before
    assert items_of(alice, name) == ({1: 1}, 1)


# ---- batch ----

def test_batch_applies_all(srv, alice):
    name = char_name()
    alice.character(name)
    alice.put(cpath(name, "inventory"), {"seq": 5, "items": [{"id": 1, "qty": 1}]})
    r = alice.post("/api/v1/sync/batch", {
        "character": name.upper(),
        "containers": {"bank": {"seq": 1, "items": [{"id": 995, "qty": 10}]},
                       "inventory": {"seq": 5, "items": []},
                       "equipment": {"seq": 3, "items": [{"id": 4151, "qty": 1}]}},
        "skills": {"seq": 1, "skills": {"attack": 83, "magic": 0}}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["containers"]["bank"] == {"applied": True, "seq": 1, "item_count": 1,
                                          "added": 1, "removed": 0, "changed": 0}
    assert body["containers"]["inventory"] == {"applied": False, "seq": 5}
    assert body["containers"]["equipment"]["applied"] is True
    assert body["skills"]["applied"] is True and body["skills"]["seq"] == 1
    assert items_of(alice, name) == ({995: 10}, 1)
    assert items_of(alice, name, "inventory") == ({1: 1}, 5)
    assert items_of(alice, name, "equipment") == ({4151: 1}, 3)


@pytest.mark.parametrize("bad", [
    {"containers": {"bank": {"seq": 9, "items": [{"id": 1, "qty": 1}]},
                    "inventory": {"seq": 9, "items": [{"id": 1, "qty": 0}]}}},
    {"containers": {"bank": {"seq": 9, "items": []}, "pockets": {"seq": 1, "items": []}}},
    {"containers": {"bank": {"seq": 9, "items": []}},
     "skills": {"seq": 9, "skills": {"Attack": 1}}},
    {"containers": {"bank": {"seq": 9, "items": []}},
     "skills": {"seq": 9, "skills": {"attack": 200000001}}},
    {"containers": {"bank": {"seq": 9, "items": []}}, "other": 1},
    {"containers": {"bank": {"seq": 9, "items": []}, "inventory": []}},
    {"containers": {"bank": {"seq": 9, "items": [], "x": 1}}},
    {"containers": []},
])
def test_batch_is_all_or_nothing(srv, alice, bad):
    name = char_name()
    alice.character(name)
    alice.put(cpath(name), {"seq": 1, "items": [{"id": 5, "qty": 5}]})
    before = db_counts(srv)
    r = alice.post("/api/v1/sync/batch", {"character": name, **bad})
    assert_error(r, 422, "invalid")
    assert db_counts(srv) == before
    assert items_of(alice, name) == ({5: 5}, 1)


def test_batch_skills_only_and_empty(srv, alice):
    name = char_name()
    alice.character(name)
    r = alice.post("/api/v1/sync/batch", {"character": name,
                                          "skills": {"seq": 3, "skills": {"attack": 5}}})
    assert r.status_code == 200, r.text
    assert r.json() == {"character": name, "containers": {},
                        "skills": {"applied": True, "seq": 3, "updated": 1, "level_ups": 0}}
    r = alice.post("/api/v1/sync/batch", {"character": name, "containers": None})
    assert r.status_code == 200 and r.json() == {"character": name, "containers": {}}


def test_batch_unknown_character_and_bad_bodies(srv, alice):
    before = db_counts(srv)
    assert_error(alice.post("/api/v1/sync/batch", {"character": "nobody" + char_name()[:5],
                                                   "containers": {}}), 404, "not_found")
    assert_error(alice.post("/api/v1/sync/batch", {"containers": {}}), 422, "invalid")
    assert_error(alice.post("/api/v1/sync/batch", raw="{"), 400, "bad_request")
    assert_error(alice.post("/api/v1/sync/batch", raw="{}",
                            headers={"Content-Type": "text/csv"}),
                 415, "unsupported_media_type")
    assert db_counts(srv) == before


# ---- skills ----

def skills_path(name):
    return f"/api/v1/sync/characters/{name}/skills"


def test_skills_seq_and_level_ups(srv, alice):
    name = char_name()
    cid = alice.character(name)
    gid = make_group(srv, alice, {alice: [cid]})
    r = alice.put(skills_path(name), {"seq": 1, "skills": {"attack": 0, "strength": 1000}})
    assert r.json() == {"applied": True, "seq": 1, "updated": 2, "level_ups": 0}
    r = alice.put(skills_path(name), {"seq": 1, "skills": {"attack": 5000}})
    assert r.json() == {"applied": False, "seq": 1}
    # attack 0 -> 83 is level 1 -> 2; strength unchanged; defence is new.
    r = alice.put(skills_path(name), {"seq": 2, "skills": {"attack": 83, "strength": 1000,
                                                           "defence": 13034431}})
    assert r.json() == {"applied": True, "seq": 2, "updated": 2, "level_ups": 1}
    feed = alice.get(f"/api/v1/groups/{gid}/activity").json()["activity"]
    ups = [a for a in feed if a["kind"] == "level_up"]
    assert len(ups) == 1
    assert ups[0]["data"] == {"skill": "attack", "level": 2, "previous_level": 1, "xp": 83}
    assert ups[0]["character"] == name and ups[0]["user_id"] == alice.id
    state = alice.get("/api/v1/sync/state").json()["characters"]
    assert [c["skills_seq"] for c in state if c["name"] == name] == [2]


@pytest.mark.parametrize("body", [
    {"seq": 1}, {"skills": {}}, {"seq": 1, "skills": []}, {"seq": 1, "skills": {"a1": 1}},
    {"seq": 1, "skills": {"": 1}}, {"seq": 1, "skills": {"x" * 33: 1}},
    {"seq": 1, "skills": {"attack": -1}}, {"seq": 1, "skills": {"attack": "1"}},
    {"seq": 1, "skills": {"attack": 1}, "more": True},
    {"seq": 1, "skills": {f"s{'abcdefghijklmnopqrstuvwxyz'[i % 26] * (1 + i // 26)}": 1
                          for i in range(65)}},
])
def test_skills_bad_input_changes_nothing(srv, alice, body):
    name = char_name()
    alice.character(name)
    before = db_counts(srv)
    assert_error(alice.put(skills_path(name), body), 422, "invalid")
    assert db_counts(srv) == before


# ---- plugin events, state, heartbeat ----

def test_plugin_events_recorded_in_each_group(srv, alice):
    name = char_name()
    cid = alice.character(name)
    g1 = make_group(srv, alice, {alice: [cid]})
    g2 = make_group(srv, alice, {alice: [cid]})
    r = alice.post(f"/api/v1/sync/characters/{name}/activity", {"events": [
        {"kind": "loot", "data": {"source": "Zulrah", "items": [{"id": 12934, "qty": 500}]}},
        {"kind": "death"}]})
    assert r.status_code == 200, r.text
    assert r.json() == {"events": 2, "recorded": 4}
    for g in (g1, g2):
        feed = alice.get(f"/api/v1/groups/{g}/activity").json()["activity"]
        assert [a["kind"] for a in feed] == ["death", "loot"]
        assert feed[1]["data"]["source"] == "Zulrah" and feed[0]["data"] == {}


@pytest.mark.parametrize("body", [
    {}, {"events": {}}, {"events": [1]}, {"events": [{"data": {}}]},
    {"events": [{"kind": "Loot"}]}, {"events": [{"kind": "items"}]},
    {"events": [{"kind": "level_up"}]}, {"events": [{"kind": "loot", "data": []}]},
    {"events": [{"kind": "loot", "data": {"x": "y" * 5000}}]},
    {"events": [{"kind": "loot", "when": 1}]},
    {"events": [{"kind": "loot"}] * 101}, {"events": [], "x": 1},
])
def test_plugin_events_bad_input(srv, alice, body):
    name = char_name()
    cid = alice.character(name)
    make_group(srv, alice, {alice: [cid]})
    before = db_counts(srv)
    assert_error(alice.post(f"/api/v1/sync/characters/{name}/activity", body), 422, "invalid")
    assert db_counts(srv) == before


def test_state_lists_seqs(srv, alice):
    a, b = char_name(), char_name()
    alice.character(a)
    alice.character(b)
    alice.put(cpath(a), {"seq": 7, "items": []})
    alice.put(cpath(a, "inventory"), {"seq": 3, "items": [{"id": 1, "qty": 1}]})
    r = alice.get("/api/v1/sync/state")
    assert r.status_code == 200
    assert r.json() == {"characters": [
        {"name": a, "containers": {"bank": 7, "inventory": 3}, "skills_seq": 0},
        {"name": b, "containers": {}, "skills_seq": 0}]}


def test_heartbeat(srv, alice):
    name = char_name()
    cid = alice.character(name)
    r = alice.post("/api/v1/sync/heartbeat", {"character": name, "world": 302,
                                              "activity": "Skilling"})
    assert r.status_code == 204, r.text
    r = alice.post("/api/v1/sync/heartbeat", {"character": name, "world": 416})
    assert r.status_code == 204
    assert sql(srv, f"SELECT world || ',' || coalesce(activity, '-') FROM presence "
                    f"WHERE character_id = {cid}") == "416,-"
    before = db_counts(srv)
    for body, status in [({"world": 1}, 422), ({"character": name, "world": "x"}, 422),
                         ({"character": name, "world": 70000}, 422),
                         ({"character": name, "activity": "x" * 65}, 422),
                         ({"character": name, "x": 1}, 422),
                         ({"character": "nobody" + char_name()[:5]}, 404)]:
        r = alice.post("/api/v1/sync/heartbeat", body)
        assert r.status_code == status, (body, r.text)
    assert db_counts(srv) == before


def test_catalog_version_and_full_with_etag(srv, alice):
    r = alice.get("/api/v1/sync/catalog")
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["version"] and info["item_count"] > 10000
    r = alice.get("/api/v1/sync/catalog?full=1")
    assert r.status_code == 200
    etag = r.headers["ETag"]
    full = r.json()
    assert full["version"] == info["version"] and len(full["items"]) == info["item_count"]
    whip = [i for i in full["items"] if i["id"] == 4151]
    assert whip and whip[0]["name"] == "Abyssal whip"
    r = alice.get("/api/v1/sync/catalog?full=1", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == etag
    r = alice.web.get(srv.url + "/api/v1/sync/catalog")
    assert r.status_code == 200


def test_items_activity_with_values(srv, alice):
    name = char_name()
    cid = alice.character(name)
    gid = make_group(srv, alice, {alice: [cid]})
    alice.put(cpath(name), {"seq": 1, "items": [{"id": 4151, "qty": 1}, {"id": 995, "qty": 100}]})
    alice.put(cpath(name), {"seq": 2, "items": [{"id": 995, "qty": 40},
                                                {"id": 1999999999, "qty": 3}]})
    feed = alice.get(f"/api/v1/groups/{gid}/activity").json()["activity"]
    assert [a["kind"] for a in feed] == ["items", "items"]
    d = feed[0]["data"]
    assert d["container"] == "bank"
    assert d["gained"] == [{"id": 1999999999, "name": None, "qty": 3, "value": 0}]
    lost = {x["id"]: x for x in d["lost"]}
    assert lost[4151]["name"] == "Abyssal whip" and lost[4151]["qty"] == 1
    assert lost[4151]["value"] > 0 and lost[995]["qty"] == 60
    assert d["lost_count"] == 2 and d["gained_count"] == 1
    assert d["lost_value"] == lost[4151]["value"] + lost[995]["value"]
    # A not-applied update records nothing.
    alice.put(cpath(name), {"seq": 2, "items": []})
    assert len(alice.get(f"/api/v1/groups/{gid}/activity").json()["activity"]) == 2


# ---- the common bad-input corpus, for every route with a body ----

BODY_ROUTES = [
    ("POST", "/api/v1/sync/characters"),
    ("PUT", "/api/v1/sync/characters/{name}/containers/bank"),
    ("PATCH", "/api/v1/sync/characters/{name}/containers/bank"),
    ("PUT", "/api/v1/sync/characters/{name}/skills"),
    ("POST", "/api/v1/sync/characters/{name}/activity"),
    ("POST", "/api/v1/sync/batch"),
    ("POST", "/api/v1/sync/heartbeat"),
]

CORPUS = [
    # (raw body, content type, status, code)
    ("{", "application/json", 400, "bad_request"),
    ("", "application/json", 400, "bad_request"),
    ("[]", "application/json", 400, "bad_request"),
    ('"x"', "application/json", 400, "bad_request"),
    (b'{"name": "\xc3\x28"}', "application/json", 400, "bad_request"),
    ('{"a": ' * 40 + "1" + "}" * 40, "application/json", 400, "bad_request"),
    ('{"a": 1, "a": 2}', "application/json", 400, "bad_request"),
    ('{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
    ('{"name": "x"}', None, 415, "unsupported_media_type"),
    ('{"unknown_field": 1}', "application/json", 422, "invalid"),
]


@pytest.mark.parametrize("method,path", BODY_ROUTES)
@pytest.mark.parametrize("raw,ctype,status,code", CORPUS)
def test_bad_input_corpus(srv, method, path, raw, ctype, status, code):
    user = corpus_user(srv)
    before = db_counts(srv)
    headers = dict(user.bearer)
    if ctype:
        headers["Content-Type"] = ctype
    r = requests.request(method, srv.url + path.format(name=user.char), data=raw,
                         headers=headers, timeout=10)
    assert_error(r, status, code)
    assert db_counts(srv) == before
    assert items_of(user, user.char) == ({1: 1}, 1)


_corpus_users = {}


def corpus_user(srv):
    """One user per server with a synced character, shared by the corpus."""
    if srv not in _corpus_users:
        u = User(srv)
        u.char = char_name()
        u.character(u.char)
        u.put(cpath(u.char), {"seq": 1, "items": [{"id": 1, "qty": 1}]})
        _corpus_users[srv] = u
    return _corpus_users[srv]


def test_wrong_types_name_the_field(srv, alice):
    name = char_name()
    alice.character(name)
    cases = [
        ("POST", "/api/v1/sync/characters", {"name": 5}, "name"),
        ("PUT", cpath(name), {"seq": 1, "items": [{"id": 1, "qty": "2"}]}, "items[0].qty"),
        ("PATCH", cpath(name), {"seq": 1, "changes": [{"id": None, "qty_delta": 1}]},
         "changes[0].id"),
        ("PUT", f"/api/v1/sync/characters/{name}/skills", {"seq": 1, "skills": {"magic": 1.5}},
         "skills.magic"),
        ("POST", "/api/v1/sync/batch",
         {"character": name, "containers": {"quiver": {"seq": 1, "items": [{"id": 1}]}}},
         "containers.quiver.items[0].qty"),
        ("POST", f"/api/v1/sync/characters/{name}/activity", {"events": [{"kind": 3}]},
         "events[0].kind"),
        ("POST", "/api/v1/sync/heartbeat", {"character": name, "world": []}, "world"),
    ]
    for method, path, body, field in cases:
        r = alice.call(method, path, body)
        assert_error(r, 422, "invalid")
        assert field in r.json()["error"]["message"], (path, r.text)
