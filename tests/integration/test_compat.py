"""The Group Ironmen Tracker API (docs/API.md "Group Ironmen Tracker
compatibility"), on both engines, with the request shapes of the RuneLite
plugin and its site: plain-text errors, the raw token in Authorization,
from_time polling, @SHARED, and the claim that shows such a group on
coffer, whose vault must then be the sum of its members' containers.
"""
import os
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import requests

from client import TIMEOUT, Account, assert_error, db_sql, mock_server

OPS_TOKEN = "compat-ops-" + uuid.uuid4().hex
_token_dir = tempfile.mkdtemp(prefix="coffer-compat-")
TOKEN_FILE = os.path.join(_token_dir, "ops.token")
with open(TOKEN_FILE, "w") as f:
    f.write(OPS_TOKEN + "\n")
OPS = {"Authorization": "Bearer " + OPS_TOKEN}

# A generous address bucket: every request of the module comes from one
# address, as many players' would behind one NAT.
srv = mock_server(settings={"ops": {"token_file": TOKEN_FILE},
                            "limits": {"address_burst": 5000, "address_rate": 500}},
                  catalog=True)

# One group per account: the claim's group limit.
limited = mock_server(settings={"limits": {"groups_per_user": 1, "address_burst": 5000,
                                           "address_rate": 500}})

EPOCH = "1970-01-01T00:00:00.000Z"
COINS, WHIP, LOGS, LAW, AIR = 995, 4151, 1511, 563, 556


def slots(pairs, n):
    """A flat slot array of n slots from (id, qty) pairs, padded with 0, 0."""
    flat = [v for p in pairs for v in p]
    return flat + [0, 0] * (n - len(pairs))


def full_update(name):
    """Every field the plugin sends, in its shapes (a first sync after login)."""
    return {
        "name": name,
        "stats": [99, 99, 70, 70, 10000, 10000, 302],
        "coordinates": [3222, 3218, 0, 0],
        "skills": [13034431] * 23 + [0],
        "quests": [2] * 200,
        "inventory": slots([(COINS, 1000), (LOGS, 1), (LOGS, 1)], 28),
        "equipment": slots([(WHIP, 1)], 14),
        "bank": [COINS, 5000, LOGS, 100, WHIP, 2],
        "rune_pouch": [LAW, 50, AIR, 1000, 0, 0, 0, 0],
        "interacting": {"name": "Goblin", "scale": 30, "ratio": 12,
                        "location": {"x": 3222, "y": 3219, "plane": 0}},
        "seed_vault": [5318, 10],
        "diary_vars": [0] * 62,
        "collection_log_v2": [WHIP, 1, 1249, 1],
        "potion_storage": [2434, 3],
        "quiver": [892, 500],
        "an_unknown_field": {"ignored": True},
    }


class Group:
    """A compat group as the plugin and the site see it."""

    def __init__(self, inst, members=("Alice", "Bob"), name=None):
        self.inst = inst
        self.name = name or "g" + uuid.uuid4().hex[:10]
        r = requests.post(inst.url + "/api/create-group", timeout=TIMEOUT,
                          json={"name": self.name,
                                "member_names": list(members) + [""] * (5 - len(members)),
                                "captcha_response": ""})
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]
        self.auth = {"Authorization": self.token}

    def url(self, action):
        return f"{self.inst.url}/api/group/{self.name}/{action}"

    def update(self, body, expect=200):
        r = requests.post(self.url("update-group-member"), json=body, headers=self.auth,
                          timeout=TIMEOUT)
        assert r.status_code == expect, r.text
        return r

    def data(self, from_time=EPOCH):
        r = requests.get(self.url("get-group-data"), params={"from_time": from_time},
                         headers=self.auth, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return {m["name"]: m for m in r.json()}


def next_from(members):
    """The site's next from_time: the newest last_updated plus 1 ms."""
    newest = max(m["last_updated"] for m in members.values() if "last_updated" in m)
    t = datetime.strptime(newest, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return (t + timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def plain(r, status, text):
    assert r.status_code == status, r.text
    assert r.text == text, r.text
    assert r.headers.get("Access-Control-Allow-Origin") == "*"


# ---- unauthenticated routes ----

def test_create_group_drops_blank_names_and_answers_a_token(srv):
    name = "  Iron " + uuid.uuid4().hex[:6] + " "
    r = requests.post(srv.url + "/api/create-group", timeout=TIMEOUT,
                      json={"name": name, "member_names": ["Alice", "", "Bob 2", "", ""]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == name.strip()
    assert body["member_names"] == ["Alice", "Bob 2"]
    uuid.UUID(body["token"])
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    # @SHARED is a hidden member: get-group-data lists it.
    r = requests.get(f"{srv.url}/api/group/{body['name']}/get-group-data",
                     params={"from_time": EPOCH}, headers={"Authorization": body["token"]},
                     timeout=TIMEOUT)
    assert [m["name"] for m in r.json()] == ["Alice", "Bob 2", "@SHARED"]
    assert all(m == {"name": m["name"]} for m in r.json())


def test_create_group_validation(srv):
    def create(name, members):
        return requests.post(srv.url + "/api/create-group", timeout=TIMEOUT,
                             json={"name": name, "member_names": members})

    for bad in ["", "   ", "x" * 17, "bad!name", "_"]:
        r = create(bad, ["Alice"])
        assert r.status_code == 400, (bad, r.text)
        assert r.text and r.headers["Content-Type"].startswith("text/plain")
    assert create("ok", ["A", "B", "C", "D", "E", "F"]).status_code == 400
    assert create("ok", ["Alice", "ALICE"]).status_code == 400
    assert create("ok", ["@SHARED"]).status_code == 400
    assert create("ok", ["x" * 17]).status_code == 400
    assert create("ok", ["x" * 16]).status_code == 201
    assert create("ok", "Alice").status_code == 400
    r = requests.post(srv.url + "/api/create-group", data="{", timeout=TIMEOUT)
    assert r.status_code == 400 and r.text.startswith("Json deserialize error")


def test_captcha_and_prices(srv):
    r = requests.get(srv.url + "/api/captcha-enabled", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"enabled": False, "sitekey": ""}
    r = requests.get(srv.url + "/api/ge-prices", timeout=TIMEOUT)
    assert r.status_code == 200
    assert "max-age=86400" in r.headers["Cache-Control"]
    prices = r.json()
    assert len(prices) > 100
    assert all(k.isdigit() and isinstance(v, int) for k, v in prices.items())


def test_cors_and_preflight(srv):
    g = Group(srv)
    for path in ["/api/create-group", f"/api/group/{g.name}/update-group-member"]:
        r = requests.options(srv.url + path, timeout=TIMEOUT,
                             headers={"Origin": "https://groupiron.men",
                                      "Access-Control-Request-Method": "POST",
                                      "Access-Control-Request-Headers": "authorization"})
        assert r.status_code == 204, r.text
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert "POST" in r.headers["Access-Control-Allow-Methods"]


# ---- authentication ----

def test_tokens_and_group_names(srv):
    g = Group(srv)
    plain(requests.get(g.url("am-i-logged-in"), headers=g.auth, timeout=TIMEOUT), 200, "")
    plain(requests.get(g.url("am-i-logged-in"), timeout=TIMEOUT), 400,
          "Authorization header missing from request")
    plain(requests.get(g.url("am-i-logged-in"), headers={"Authorization": str(uuid.uuid4())},
                       timeout=TIMEOUT), 401, "")
    plain(requests.get(g.url("get-group-data"), params={"from_time": EPOCH},
                       headers={"Authorization": "Bearer " + g.token}, timeout=TIMEOUT),
          401, "")
    other = f"{srv.url}/api/group/nosuch{uuid.uuid4().hex[:6]}/am-i-logged-in"
    plain(requests.get(other, headers=g.auth, timeout=TIMEOUT), 401, "")
    # Names are not unique: the token picks the group.
    twin = Group(srv, members=("Carol",), name=g.name)
    assert list(twin.data()) == ["Carol", "@SHARED"]
    assert list(g.data()) == ["Alice", "Bob", "@SHARED"]
    plain(requests.get(g.url("am-i-in-group"), params={"member_name": "alice"},
                       headers=g.auth, timeout=TIMEOUT), 200, "")
    plain(requests.get(g.url("am-i-in-group"), params={"member_name": "Carol"},
                       headers=g.auth, timeout=TIMEOUT), 401,
          "Player is not a member of this group")
    # The token is kept only as its hash.
    hashes = db_sql(srv, f"SELECT token_hash FROM compat_groups WHERE name = '{g.name}'")
    assert g.token not in hashes
    assert [len(h) for h in hashes.split()] == [64, 64]


def test_a_burst_of_wrong_tokens_is_slowed_per_group_and_token(srv):
    g = Group(srv)
    wrong = {"Authorization": str(uuid.uuid4())}
    codes = [requests.get(g.url("am-i-logged-in"), headers=wrong, timeout=TIMEOUT)
             for _ in range(14)]
    assert codes[0].status_code == 401
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    assert int(limited[0].headers["Retry-After"]) >= 1
    # The right token, from the same address, is not locked out.
    plain(requests.get(g.url("am-i-logged-in"), headers=g.auth, timeout=TIMEOUT), 200, "")
    # Nor is another token for the same group.
    r = requests.get(g.url("am-i-logged-in"), headers={"Authorization": str(uuid.uuid4())},
                     timeout=TIMEOUT)
    assert r.status_code == 401


def test_demo_group_needs_no_token(srv):
    r = requests.get(f"{srv.url}/api/group/_/get-group-data", params={"from_time": EPOCH},
                     timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == []
    r = requests.post(f"{srv.url}/api/group/_/update-group-member", json={"name": "x"},
                      timeout=TIMEOUT)
    assert r.status_code == 400


# ---- update and polling ----

def test_full_update_and_polling(srv):
    g = Group(srv)
    g.update(full_update("Alice"))
    first = g.data()
    alice = first["Alice"]
    sent = full_update("Alice")
    for key in ["stats", "coordinates", "skills", "quests", "inventory", "equipment",
                "bank", "rune_pouch", "seed_vault", "diary_vars", "potion_storage",
                "quiver"]:
        assert alice[key] == sent[key], key
    assert alice["interacting"]["name"] == "Goblin"
    assert "last_updated" in alice["interacting"]
    for hidden in ["shared_bank", "deposited", "an_unknown_field", "collection_log_v2"]:
        assert hidden not in alice
    assert len(alice["last_updated"]) == 27      # microseconds
    assert first["Bob"] == {"name": "Bob"}

    # Nothing changed since: only names and times.
    since = next_from(first)
    quiet = g.data(since)
    assert set(quiet["Alice"]) == {"name", "last_updated"}
    assert quiet["Bob"] == {"name": "Bob"}

    # A field appears once after it changed, then not again.
    inv = slots([(COINS, 999)], 28)
    g.update({"name": "Alice", "inventory": inv, "stats": sent["stats"]})
    once = g.data(since)
    assert set(once["Alice"]) == {"name", "inventory", "last_updated"}
    assert once["Alice"]["inventory"] == inv
    again = g.data(next_from(once))
    assert set(again["Alice"]) == {"name", "last_updated"}

    # Times compare with >=: polling from the exact time sees the field.
    exact = g.data(once["Alice"]["last_updated"])
    assert "inventory" in exact["Alice"]

    # An omitted field keeps its value.
    assert g.data()["Alice"]["bank"] == sent["bank"]


def test_bad_from_time(srv):
    g = Group(srv)
    for bad in ["yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00"]:
        r = requests.get(g.url("get-group-data"), params={"from_time": bad},
                         headers=g.auth, timeout=TIMEOUT)
        assert r.status_code == 400, bad
    r = requests.get(g.url("get-group-data"), params={"from_time": "2024-01-01T00:00:00+02:00"},
                     headers=g.auth, timeout=TIMEOUT)
    assert r.status_code == 200


def test_length_validation_messages(srv):
    g = Group(srv)
    cases = [
        ("stats", [1] * 6, "stats length violated range constraint 7..=7 actual=6"),
        ("coordinates", [1, 2], "coordinates length violated range constraint 3..=4 actual=2"),
        ("skills", [1] * 25, "skills length violated range constraint 23..=24 actual=25"),
        ("quests", [0] * 251, "quests length violated range constraint 0..=250 actual=251"),
        ("inventory", [0] * 54, "inventory length violated range constraint 56..=56 actual=54"),
        ("equipment", [0] * 30, "equipment length violated range constraint 28..=28 actual=30"),
        ("bank", [0] * 3002, "bank length violated range constraint 0..=3000 actual=3002"),
        ("shared_bank", [0] * 1002,
         "shared_bank length violated range constraint 0..=1000 actual=1002"),
        ("rune_pouch", [0] * 4, "rune_pouch length violated range constraint 6..=8 actual=4"),
        ("seed_vault", [0] * 502, "seed_vault length violated range constraint 0..=500 actual=502"),
        ("deposited", [0] * 202, "deposited length violated range constraint 0..=200 actual=202"),
        ("diary_vars", [0] * 63, "diary_vars length violated range constraint 0..=62 actual=63"),
        ("collection_log_v2", [0] * 4002,
         "collection_log_v2 length violated range constraint 0..=4000 actual=4002"),
        ("potion_storage", [0] * 402,
         "potion_storage length violated range constraint 0..=400 actual=402"),
        ("bank", [COINS, 1, LOGS],
         "bank must have an even number of elements (item-id/quantity pairs), got 3"),
        ("rune_pouch", [0] * 7,
         "rune_pouch must have an even number of elements (item-id/quantity pairs), got 7"),
    ]
    for field, value, message in cases:
        r = g.update({"name": "Alice", field: value}, expect=400)
        assert r.text == message, (field, r.text)
    # Nothing was written by the refused updates.
    assert g.data()["Alice"] == {"name": "Alice"}
    assert g.update({"name": "Alice", "quests": [256]}, expect=400).text
    g.update({"stats": [1] * 7}, expect=400)


def test_shared_bank_deposited_and_strangers(srv):
    g = Group(srv)
    g.update({"name": "Alice", "bank": [COINS, 100], "shared_bank": [LAW, 7, COINS, 3]})
    d = g.data()
    assert d["@SHARED"]["bank"] == [LAW, 7, COINS, 3]
    assert "shared_bank" not in d["Alice"]
    g.update({"name": "Alice", "deposited": [COINS, 50, LOGS, 2]})
    assert g.data()["Alice"]["bank"] == [COINS, 150, LOGS, 2]
    # An update for a name that is not a member changes nothing, not even
    # the shared bank it carries.
    g.update({"name": "Mallory", "bank": [WHIP, 1], "shared_bank": [WHIP, 1]})
    d = g.data()
    assert "Mallory" not in d
    assert d["@SHARED"]["bank"] == [LAW, 7, COINS, 3]


def test_collection_log_is_merged(srv):
    g = Group(srv)
    g.update({"name": "Alice", "collection_log_v2": [WHIP, 1, 1249, 1]})
    g.update({"name": "Alice", "collection_log_v2": [1249, 2, 11840, 1]})
    r = requests.get(g.url("collection-log"), headers=g.auth, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json() == [{"name": "Alice",
                         "collection_log_v2": [1249, 2, WHIP, 1, 11840, 1]}]


def test_skill_data(srv):
    g = Group(srv)
    g.update({"name": "Alice", "skills": list(range(24))})
    r = requests.get(g.url("get-skill-data"), params={"period": "Week"}, headers=g.auth,
                     timeout=TIMEOUT)
    assert r.status_code == 200
    by = {m["name"]: m["skill_data"] for m in r.json()}
    assert by["Bob"] == [] and "@SHARED" not in by
    assert by["Alice"][0]["data"] == list(range(24))
    r = requests.get(g.url("get-skill-data"), params={"period": "Decade"}, headers=g.auth,
                     timeout=TIMEOUT)
    assert r.status_code == 400


def test_body_cap(srv):
    g = Group(srv)
    body = '{"name": "Alice", "bank": [' + ",".join(["1"] * 60000) + "]}"
    assert len(body) > 100000
    r = requests.post(g.url("update-group-member"), data=body, headers=g.auth,
                      timeout=TIMEOUT)
    assert r.status_code == 413


# ---- members ----

def test_add_rename_delete_members(srv):
    g = Group(srv, members=("Alice", "Bob", "Carol", "Dave"))

    def call(method, action, body):
        return requests.request(method, g.url(action), json=body, headers=g.auth,
                                timeout=TIMEOUT)

    plain(call("POST", "add-group-member", {"name": "Eve"}), 201, "")
    plain(call("POST", "add-group-member", {"name": "Frank"}), 400,
          "Group has already reached the maximum amount of players")
    plain(call("POST", "add-group-member", {"name": "x" * 17}), 400,
          "Member name must be 1 to 16 letters, digits, spaces, '-' or '_'")
    assert call("POST", "add-group-member", {"name": "@SHARED"}).status_code == 400
    g.update({"name": "Eve", "bank": [COINS, 10]})
    plain(call("PUT", "rename-group-member",
               {"original_name": "Eve", "new_name": "Eve The Sixteen"}), 200, "")
    d = g.data()
    assert "Eve" not in d and d["Eve The Sixteen"]["bank"] == [COINS, 10]
    assert call("PUT", "rename-group-member",
                {"original_name": "Nobody", "new_name": "X"}).status_code == 400
    assert call("PUT", "rename-group-member",
                {"original_name": "Alice", "new_name": "bob"}).status_code == 400
    plain(call("DELETE", "delete-group-member", {"name": "Eve The Sixteen"}), 200, "")
    assert "Eve The Sixteen" not in g.data()
    assert call("DELETE", "delete-group-member", {"name": "Eve The Sixteen"}).status_code == 400
    plain(call("POST", "add-group-member", {"name": "Frank"}), 201, "")
    # Without the token: 401 / 400.
    r = requests.post(g.url("add-group-member"), json={"name": "Zed"}, timeout=TIMEOUT)
    plain(r, 400, "Authorization header missing from request")


# ---- claim and the vault ----

def vault_items(acct, gid):
    r = acct.web.get(f"{acct.inst.url}/api/v1/groups/{gid}/vault", params={"limit": 500},
                     timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return {it["id"]: it["qty"] for it in r.json()["items"]}


def expected_vault(*arrays):
    total = Counter()
    for arr in arrays:
        for i in range(0, len(arr), 2):
            if arr[i + 1] > 0:
                total[arr[i]] += arr[i + 1]
    return dict(total)


def test_claim_shows_the_vault_as_the_sum_of_members(srv):
    g = Group(srv)
    a, b = full_update("Alice"), full_update("Bob")
    b["bank"] = [COINS, 7, 2434, 1]
    a["shared_bank"] = [LAW, 11]
    g.update(a)
    g.update(b)
    acct = Account(srv, "compat" + uuid.uuid4().hex[:8], "Claimer")
    r = acct.web.post(srv.url + "/api/v1/groups/claim", headers=acct.csrf, timeout=TIMEOUT,
                      json={"name": g.name, "token": str(uuid.uuid4())})
    assert_error(r, 404, "not_found")
    r = acct.web.post(srv.url + "/api/v1/groups/claim", headers=acct.csrf, timeout=TIMEOUT,
                      json={"name": g.name, "token": g.token})
    assert r.status_code == 200, r.text
    gid = r.json()["group_id"]
    groups = acct.web.get(srv.url + "/api/v1/groups", timeout=TIMEOUT).json()
    assert gid in [x["id"] for x in groups["groups"]]
    want = expected_vault(*(m[k] for m in (a, b) for k in
                            ["inventory", "equipment", "bank", "rune_pouch", "seed_vault",
                             "potion_storage", "quiver"]), a["shared_bank"])
    assert vault_items(acct, gid) == want
    # Claiming again: the same account is fine, another is refused.
    r = acct.web.post(srv.url + "/api/v1/groups/claim", headers=acct.csrf, timeout=TIMEOUT,
                      json={"name": g.name, "token": g.token})
    assert r.status_code == 200
    other = Account(srv, "compat" + uuid.uuid4().hex[:8], "Other")
    r = other.web.post(srv.url + "/api/v1/groups/claim", headers=other.csrf, timeout=TIMEOUT,
                       json={"name": g.name, "token": g.token})
    assert_error(r, 409, "conflict")
    # The plugin is unaffected; its next update reaches the vault and the
    # group's activity, like a sync.
    g.update({"name": "Bob", "bank": [COINS, 8]})
    feed = acct.web.get(f"{srv.url}/api/v1/groups/{gid}/activity", timeout=TIMEOUT).json()
    items = [e for e in feed["activity"] if e["kind"] == "items"]
    assert items and items[0]["character"].startswith("#"), feed
    want[COINS] += 1
    want[2434] -= 1
    if want[2434] == 0:
        del want[2434]
    assert vault_items(acct, gid) == want
    r = requests.post(srv.admin_url + "/internal/vault/verify", json={}, headers=OPS,
                      timeout=60)
    assert r.status_code == 200 and r.json()["differ"] == [], r.text
    # A stranger does not see the group.
    r = other.web.get(f"{srv.url}/api/v1/groups/{gid}/vault", timeout=TIMEOUT)
    assert_error(r, 404, "not_found")


def test_claim_needs_a_login(srv):
    r = requests.post(srv.url + "/api/v1/groups/claim", json={"name": "x", "token": "y"},
                      timeout=TIMEOUT)
    assert_error(r, 401, "unauthorized")
    # A session needs its CSRF header; a plugin token claims as well.
    g = Group(srv)
    acct = Account(srv, "compat" + uuid.uuid4().hex[:8], "Claimer")
    r = acct.web.post(srv.url + "/api/v1/groups/claim", timeout=TIMEOUT,
                      json={"name": g.name, "token": g.token})
    assert_error(r, 403, "forbidden")
    r = requests.post(srv.url + "/api/v1/groups/claim", headers=acct.bearer, timeout=TIMEOUT,
                      json={"name": g.name, "token": g.token})
    assert r.status_code == 200, r.text
    r = acct.web.get(f"{srv.url}/api/v1/groups/{r.json()['group_id']}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["role"] == "owner", r.text
    r = requests.post(srv.url + "/api/v1/groups/claim", headers=acct.bearer, timeout=TIMEOUT,
                      json={"name": g.name, "token": g.token, "extra": 1})
    assert_error(r, 422, "invalid")


def test_claim_past_the_group_limit(limited):
    """A claim makes the claimer a member, so [limits] groups_per_user
    applies as to a join: the same 422, and nothing changes."""
    srv = limited
    g = Group(srv)
    acct = Account(srv, "compat" + uuid.uuid4().hex[:8], "Claimer")
    other = Account(srv, "compat" + uuid.uuid4().hex[:8], "Other")

    def post(a, path, body):
        return a.web.post(srv.url + path, headers=a.csrf, json=body, timeout=TIMEOUT)
    mine = post(acct, "/api/v1/groups", {"name": "Mine", "characters": []})
    assert mine.status_code == 201, mine.text
    code = post(other, "/api/v1/groups", {"name": "Theirs", "characters": []}).json()
    join = post(acct, "/api/v1/groups/join", {"code": code["join_code"], "characters": []})
    assert_error(join, 422, "invalid")
    before = db_sql(srv, f"SELECT g.owner_id, c.claimed_by, "
                         f"(SELECT count(*) FROM group_members WHERE user_id = {acct.id}) "
                         f"FROM compat_groups c JOIN groups g ON g.id = c.group_id "
                         f"WHERE c.name = '{g.name}'")
    r = post(acct, "/api/v1/groups/claim", {"name": g.name, "token": g.token})
    assert_error(r, 422, "invalid")
    assert r.json() == join.json()
    assert db_sql(srv, f"SELECT g.owner_id, c.claimed_by, "
                       f"(SELECT count(*) FROM group_members WHERE user_id = {acct.id}) "
                       f"FROM compat_groups c JOIN groups g ON g.id = c.group_id "
                       f"WHERE c.name = '{g.name}'") == before
    assert before.split("|")[1:] == ["", "1"], before
    # Without its own group the claimer has room: the claim goes through.
    r = acct.web.delete(f"{srv.url}/api/v1/groups/{mine.json()['id']}",
                        headers=acct.csrf, timeout=TIMEOUT)
    assert r.status_code == 204, r.text
    r = post(acct, "/api/v1/groups/claim", {"name": g.name, "token": g.token})
    assert r.status_code == 200, r.text


def test_delete_member_leaves_the_vault_consistent(srv):
    g = Group(srv)
    g.update({"name": "Alice", "bank": [COINS, 10, WHIP, 1]})
    g.update({"name": "Bob", "bank": [COINS, 5]})
    acct = Account(srv, "compat" + uuid.uuid4().hex[:8], "Claimer")
    r = acct.web.post(srv.url + "/api/v1/groups/claim", headers=acct.csrf, timeout=TIMEOUT,
                      json={"name": g.name, "token": g.token})
    gid = r.json()["group_id"]
    r = requests.delete(g.url("delete-group-member"), json={"name": "Alice"}, headers=g.auth,
                        timeout=TIMEOUT)
    assert r.status_code == 200
    assert vault_items(acct, gid) == {COINS: 5}
    r = requests.post(srv.admin_url + "/internal/vault/verify", json={"group_id": gid},
                      headers=OPS, timeout=60)
    assert r.json()["differ"] == [], r.text
