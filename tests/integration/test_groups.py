"""Groups through HTTP on a real cofferd, on both engines: creating,
listing, joining by code, the roster, sharing characters, roles, removal,
transfer, leaving, deleting, join-code rotation, the plan limit under
concurrent joins, the authorization matrix (owner / admin / member /
stranger x every route) and the bad-input corpus."""
import re
import threading
import uuid

import pytest
import requests

from client import assert_error, mock_server
from client import db_sql as sql
from groupkit import Player

CODE_RE = re.compile(r"^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{12}$")


inst = mock_server(catalog=True)


def uniq(prefix="u"):
    return prefix + uuid.uuid4().hex[:6]


def player(inst, chars=0):
    p = Player(inst, uniq())
    p.chars = [uniq("C") for _ in range(chars)]
    for c in p.chars:
        p.link(c)
    return p


@pytest.fixture
def team(inst):
    """A group with an owner, an admin and a member (each sharing a
    character), and a stranger."""
    owner, admin, member, stranger = (player(inst, 1) for _ in range(4))
    g = owner.create_group(uniq("G"), owner.chars)
    for p in (admin, member):
        r = p.join(g["join_code"], p.chars)
        assert r.status_code == 200, r.text
    r = owner.patch(f"/api/v1/groups/{g['id']}/members/{admin.id}", {"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin", r.text
    return {"g": g, "owner": owner, "admin": admin, "member": member, "stranger": stranger}


# ---- create, list, get ----

def test_create_list_get(inst):
    p = player(inst, 2)
    r = p.post("/api/v1/groups", {"name": "Iron Men", "characters": [p.chars[0].lower()]})
    assert r.status_code == 201, r.text
    g = r.json()
    assert set(g) >= {"id", "name", "owner_id", "role", "member_count", "created_at",
                      "join_code"}
    assert g["name"] == "Iron Men" and g["owner_id"] == p.id and g["role"] == "owner"
    assert g["member_count"] == 1 and g["created_at"].endswith("Z")
    assert CODE_RE.match(g["join_code"])
    r = p.get("/api/v1/groups")
    assert r.status_code == 200 and [x["id"] for x in r.json()["groups"]] == [g["id"]]
    r = p.get(f"/api/v1/groups/{g['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == g["id"] and body["join_code"] == g["join_code"]
    assert body["total_value"] == 0 and body["item_count"] == 0
    assert body["last_sync_at"] is None
    roster = p.get(f"/api/v1/groups/{g['id']}/roster").json()["members"]
    assert [c["name"] for c in roster[0]["characters"]] == [p.chars[0]]


def test_create_without_characters_and_codes_differ(inst):
    p = player(inst)
    g1 = p.create_group("One")
    g2 = p.create_group("One")          # names need not be unique
    assert g1["id"] != g2["id"] and g1["join_code"] != g2["join_code"]


def test_someone_elses_character_is_422(inst):
    a, b = player(inst, 1), player(inst, 1)
    r = a.post("/api/v1/groups", {"name": "x", "characters": [b.chars[0]]})
    assert_error(r, 422, "invalid")
    assert "characters" in r.json()["error"]["message"]
    r = a.post("/api/v1/groups", {"name": "x", "characters": ["NoSuchChar1"]})
    assert_error(r, 422, "invalid")
    assert a.get("/api/v1/groups").json() == {"groups": []}


# ---- join ----

def test_join_flow(inst):
    a, b = player(inst, 1), player(inst, 2)
    g = a.create_group("Club", a.chars)
    r = b.join(g["join_code"].lower(), b.chars)        # codes ignore case
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["id"] == g["id"] and j["role"] == "member" and j["member_count"] == 2
    assert "join_code" not in j
    assert_error(b.join(g["join_code"]), 409, "conflict")
    assert_error(a.join(g["join_code"]), 409, "conflict")
    assert_error(b.join("ABCDEFGHJKLM"), 404, "not_found")
    assert_error(b.join("0"), 404, "not_found")
    roster = a.get(f"/api/v1/groups/{g['id']}/roster").json()["members"]
    assert [(m["user_id"], m["role"]) for m in roster] == [(a.id, "owner"), (b.id, "member")]
    assert sorted(c["name"] for c in roster[1]["characters"]) == sorted(b.chars)
    for m in roster:
        assert m["display_name"] and m["joined_at"].endswith("Z")
        for c in m["characters"]:
            assert set(c) == {"name", "last_sync_at", "presence"}
            assert c["presence"] is None        # no heartbeat yet


def test_roster_shows_the_last_heartbeat(inst, team):
    """A freshly opened page sees who is online: each shared character's
    last heartbeat is in the roster, world and activity null when left out."""
    member, base = team["member"], f"/api/v1/groups/{team['g']['id']}"
    name = member.chars[0]

    def presence():
        roster = team["owner"].get(f"{base}/roster").json()["members"]
        mine = next(m for m in roster if m["user_id"] == member.id)
        return mine["characters"][0]["presence"]

    assert presence() is None
    r = requests.post(inst.url + "/api/v1/sync/heartbeat", headers=member.bearer,
                      json={"character": name, "world": 302, "activity": "Fishing"})
    assert r.status_code == 204, r.text
    p = presence()
    assert p["world"] == 302 and p["activity"] == "Fishing", p
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", p["at"]), p
    r = requests.post(inst.url + "/api/v1/sync/heartbeat", headers=member.bearer,
                      json={"character": name})
    assert r.status_code == 204, r.text
    p2 = presence()
    assert p2["world"] is None and p2["activity"] is None and p2["at"] >= p["at"], p2
    # Every member reads it (the member's own Member answer too); the
    # owner's character, which sent nothing, stays null.
    roster = team["member"].get(f"{base}/roster").json()["members"]
    assert {m["user_id"]: m["characters"][0]["presence"] is None for m in roster} == {
        team["owner"].id: True, team["admin"].id: True, member.id: False}
    r = member.put(f"{base}/members/me", {"characters": [name]})
    assert r.status_code == 200 and r.json()["characters"][0]["presence"] == p2, r.text
    # A stranger still learns nothing.
    assert_error(team["stranger"].get(f"{base}/roster"), 404, "not_found")


def test_share_characters_put_members_me(inst):
    a, b = player(inst, 1), player(inst, 3)
    g = a.create_group("Share", a.chars)
    assert b.join(g["join_code"], b.chars[:1]).status_code == 200
    r = b.put(f"/api/v1/groups/{g['id']}/members/me", {"characters": b.chars[1:]})
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["user_id"] == b.id and m["role"] == "member"
    assert sorted(c["name"] for c in m["characters"]) == sorted(b.chars[1:])
    r = b.put(f"/api/v1/groups/{g['id']}/members/me", {"characters": []})
    assert r.status_code == 200 and r.json()["characters"] == []
    r = b.put(f"/api/v1/groups/{g['id']}/members/me", {"characters": a.chars})
    assert_error(r, 422, "invalid")


# ---- the plan limit, under concurrent joins ----

def test_racing_joins_respect_the_plan_limit(inst):
    owner = player(inst)
    g = owner.create_group("Full")
    for _ in range(3):
        assert player(inst).join(g["join_code"]).status_code == 200
    racers = [player(inst) for _ in range(6)]
    results = [None] * len(racers)
    barrier = threading.Barrier(len(racers))

    def go(i):
        barrier.wait()
        results[i] = racers[i].join(g["join_code"])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(racers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [422] * 5, [r.text for r in results]
    for r in results:
        if r.status_code == 422:
            assert_error(r, 422, "invalid")
    assert owner.get(f"/api/v1/groups/{g['id']}").json()["member_count"] == 5


# ---- join codes ----

def test_rotation_invalidates_the_old_code(inst, team):
    g, admin = team["g"], team["admin"]
    r = admin.get(f"/api/v1/groups/{g['id']}/join-code")
    assert r.status_code == 200 and r.json() == {"join_code": g["join_code"]}
    r = admin.post(f"/api/v1/groups/{g['id']}/join-code/rotate")
    assert r.status_code == 200, r.text
    new = r.json()["join_code"]
    assert CODE_RE.match(new) and new != g["join_code"]
    assert team["owner"].get(f"/api/v1/groups/{g['id']}/join-code").json()["join_code"] == new
    assert_error(team["stranger"].join(g["join_code"]), 404, "not_found")
    assert team["stranger"].join(new).status_code == 200


# ---- roles, removal, transfer, leaving, deleting ----

def test_roles_remove_and_cleanup(inst, team):
    g, owner, admin, member = team["g"], team["owner"], team["admin"], team["member"]
    gid = g["id"]
    base = f"/api/v1/groups/{gid}"
    shared = f"SELECT count(*) FROM group_characters WHERE group_id = {gid}"
    assert sql(inst, shared) == "3"
    # An admin may not remove another admin (or the owner); the owner may.
    other = player(inst, 1)
    assert other.join(g["join_code"], other.chars).status_code == 200
    assert owner.patch(f"{base}/members/{other.id}", {"role": "admin"}).status_code == 200
    assert_error(admin.delete(f"{base}/members/{other.id}"), 403, "forbidden")
    assert_error(admin.delete(f"{base}/members/{owner.id}"), 403, "forbidden")
    r = owner.patch(f"{base}/members/{other.id}", {"role": "member"})
    assert r.status_code == 200 and r.json()["role"] == "member"
    assert admin.delete(f"{base}/members/{other.id}").status_code == 204
    assert sql(inst, shared) == "3"
    assert_error(admin.delete(f"{base}/members/{other.id}"), 404, "not_found")
    assert_error(other.get(base), 404, "not_found")
    # The owner's own role and removal: only by transfer.
    assert_error(owner.patch(f"{base}/members/{owner.id}", {"role": "member"}), 409,
                 "conflict")
    assert_error(owner.delete(f"{base}/members/{owner.id}"), 409, "conflict")
    assert_error(owner.post(f"{base}/leave"), 409, "conflict")
    # Removing a member unshares their characters.
    assert owner.delete(f"{base}/members/{member.id}").status_code == 204
    assert sql(inst, shared) == "2"
    roster = owner.get(f"{base}/roster").json()["members"]
    assert member.id not in [m["user_id"] for m in roster]


def test_transfer_then_leave(inst, team):
    g, owner, admin, member = team["g"], team["owner"], team["admin"], team["member"]
    base = f"/api/v1/groups/{g['id']}"
    assert_error(owner.post(f"{base}/transfer", {"user_id": team["stranger"].id}), 422,
                 "invalid")
    assert_error(owner.post(f"{base}/transfer", {"user_id": owner.id}), 409, "conflict")
    r = owner.post(f"{base}/transfer", {"user_id": member.id})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "admin" and r.json()["owner_id"] == member.id
    roles = {m["user_id"]: m["role"] for m in member.get(f"{base}/roster").json()["members"]}
    assert roles == {owner.id: "admin", admin.id: "admin", member.id: "owner"}
    assert_error(owner.post(f"{base}/transfer", {"user_id": admin.id}), 403, "forbidden")
    # The old owner may now leave; leaving unshares.
    assert owner.post(f"{base}/leave").status_code == 204
    assert_error(owner.get(base), 404, "not_found")
    assert sql(inst, f"SELECT count(*) FROM group_characters WHERE group_id = {g['id']}"
                     f" AND user_id = {owner.id}") == "0"
    assert admin.delete(f"{base}/members/{admin.id}").status_code == 204   # self = leave
    assert member.get(base).json()["member_count"] == 1


def test_rename_and_delete(inst, team):
    g, owner, admin = team["g"], team["owner"], team["admin"]
    base = f"/api/v1/groups/{g['id']}"
    r = admin.patch(base, {"name": "Renamed"})
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    assert owner.get(base).json()["name"] == "Renamed"
    assert_error(admin.delete(base), 403, "forbidden")
    assert owner.delete(base).status_code == 204
    assert_error(owner.get(base), 404, "not_found")
    assert_error(team["member"].join(g["join_code"]), 404, "not_found")
    assert sql(inst, f"SELECT count(*) FROM group_characters WHERE group_id = {g['id']}") \
        == "0"
    assert sql(inst, f"SELECT count(*) FROM group_members WHERE group_id = {g['id']}") == "0"


# ---- the authorization matrix ----

# (method, path under the group, body, the roles allowed)
ALL = ("owner", "admin", "member")
ROUTES = [
    ("GET", "", None, ALL),
    ("PATCH", "", {"name": "n"}, ("owner", "admin")),
    ("GET", "/roster", None, ALL),
    ("PUT", "/members/me", {"characters": []}, ALL),
    ("PATCH", "/members/{other}", {"role": "member"}, ("owner",)),
    ("POST", "/transfer", {"user_id": 0}, ("owner",)),
    ("GET", "/join-code", None, ("owner", "admin")),
    ("POST", "/join-code/rotate", None, ("owner", "admin")),
    ("GET", "/vault", None, ALL),
    ("GET", "/vault/items/4151", None, ALL),
    ("GET", "/vault/summary", None, ALL),
    ("DELETE", "/members/{other}", None, ("owner", "admin")),
    ("DELETE", "", None, ("owner",)),
    ("POST", "/leave", None, ("admin", "member")),
]


def call(p, method, path, body):
    if method in ("GET", "DELETE"):
        return getattr(p, method.lower())(path)
    return getattr(p, method.lower())(path, body)


@pytest.mark.parametrize("who", ["owner", "admin", "member", "stranger"])
def test_authorization_matrix(inst, team, who):
    """Each route as each role: allowed (2xx, or 409 where the owner must
    transfer first), 403 for a member lacking the role, 404 for a stranger.
    Destructive routes come last (the owner leaves, 409, before deleting);
    a fresh team per role."""
    p, gid = team[who], team["g"]["id"]
    other = player(inst)
    assert other.join(team["g"]["join_code"]).status_code == 200
    routes = ROUTES if who != "owner" else ROUTES[:-2] + [ROUTES[-1], ROUTES[-2]]
    for method, sub, body, allowed in routes:
        path = f"/api/v1/groups/{gid}{sub}".replace("{other}", str(other.id))
        if body and "user_id" in body:
            body = {"user_id": other.id}
        r = call(p, method, path, body)
        if who == "stranger":
            assert_error(r, 404, "not_found")
        elif who in allowed:
            assert r.status_code in (200, 204), (method, path, r.text)
            if sub == "/transfer":      # give it back, for the rest of the matrix
                assert call(other, "POST", path, {"user_id": p.id}).status_code == 200
        elif sub == "/leave" and who == "owner":
            assert_error(r, 409, "conflict")
        else:
            assert_error(r, 403, "forbidden")
    for path in ("/api/v1/groups/999999999", "/api/v1/groups/abc", "/api/v1/groups/0"):
        assert_error(p.get(path), 404, "not_found")


def test_bearer_token_reads_only(inst, team):
    owner, gid = team["owner"], team["g"]["id"]
    base = f"{inst.url}/api/v1/groups/{gid}"
    for path in ("", "/roster", "/join-code", "/vault", "/vault/summary"):
        assert owner.tget(f"/api/v1/groups/{gid}{path}").status_code == 200, path
    assert owner.tget("/api/v1/groups").json()["groups"][0]["id"] == gid
    for method, path, body in (("POST", "", {"name": "x"}), ("PATCH", base, {"name": "x"}),
                               ("DELETE", base, None),
                               ("POST", base + "/join-code/rotate", None)):
        url = path if path else f"{inst.url}/api/v1/groups"
        r = requests.request(method, url, json=body, headers=owner.bearer, timeout=5)
        assert_error(r, 403, "forbidden")
    # A session write without the CSRF header is 403 too.
    r = owner.web.patch(base, json={"name": "x"}, timeout=5)
    assert_error(r, 403, "forbidden")
    assert owner.get(f"/api/v1/groups/{gid}").json()["name"] == team["g"]["name"]
    assert requests.get(base, timeout=5).status_code == 401


# ---- the bad-input corpus ----

def bad_bodies(field_cases):
    """The corpus every JSON route gets, plus its own invalid fields."""
    return [
        ("not json", "application/json", 400, "bad_request"),
        ('{"name": ', "application/json", 400, "bad_request"),
        ("[1, 2]", "application/json", 400, "bad_request"),
        ('{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
        ("", "application/json", 400, "bad_request"),
        ('{"unknown": 1}', "application/json", 422, "invalid"),
        ("{" + '"a":[' * 40 + "]" * 40 + "}", "application/json", 400, "bad_request"),
    ] + [(body, "application/json", 422, "invalid") for body in field_cases]


NAME_CASES = ['{}', '{"name": ""}', '{"name": 5}', '{"name": null}',
              '{"name": "' + "x" * 65 + '"}']
CHAR_CASES = ['{"name": "g", "characters": "A"}', '{"name": "g", "characters": [5]}',
              '{"name": "g", "characters": ["bad/name"]}',
              '{"name": "g", "characters": ["' + "x" * 13 + '"]}',
              '{"name": "g", "characters": ["NoSuchOne"]}',
              '{"name": "g", "characters": [' + ",".join(['"a"'] * 51) + ']}']


@pytest.mark.parametrize("route", ["create", "rename", "join", "share", "role", "transfer"])
def test_bad_input_changes_nothing(inst, team, route):
    owner, g = team["owner"], team["g"]
    gid, mid = g["id"], team["member"].id
    join_cases = ['{}', '{"code": 5}', '{"code": ""}', '{"code": "' + "x" * 65 + '"}',
                  '{"code": "' + g["join_code"] + '", "characters": [1]}']
    table = {
        "create": ("POST", "/api/v1/groups", NAME_CASES + CHAR_CASES),
        "rename": ("PATCH", f"/api/v1/groups/{gid}", NAME_CASES),
        "join": ("POST", "/api/v1/groups/join", join_cases),
        "share": ("PUT", f"/api/v1/groups/{gid}/members/me",
                  ['{}', '{"characters": null}', '{"characters": ["NoSuchOne"]}',
                   '{"characters": [true]}']),
        "role": ("PATCH", f"/api/v1/groups/{gid}/members/{mid}",
                 ['{}', '{"role": "owner"}', '{"role": "boss"}', '{"role": 1}']),
        "transfer": ("POST", f"/api/v1/groups/{gid}/transfer",
                     ['{}', '{"user_id": "1"}', '{"user_id": 0}', '{"user_id": -5}',
                      '{"user_id": 1.5}']),
    }
    method, path, cases = table[route]
    who = team["stranger"] if route == "join" else owner
    before = (who.get("/api/v1/groups").json(),
              owner.get(f"/api/v1/groups/{gid}/roster").json())
    for data, ctype, status, code in bad_bodies(cases):
        r = who.raw(method, path, data.encode(), ctype)
        assert_error(r, status, code, route, data[:60], ctype)
    after = (who.get("/api/v1/groups").json(),
             owner.get(f"/api/v1/groups/{gid}/roster").json())
    assert after == before


def test_body_too_large_is_413(inst, team):
    r = team["owner"].raw("POST", "/api/v1/groups",
                          b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert_error(r, 413, "payload_too_large")
