"""What one user may own and how fast anyone may ask ([limits]): characters
per user, group memberships per user, activity events per request, and the
request rates per plugin token, per web session and per client address.

Each limit answers 422 (429 for rates) with a message naming it, and a
refused request changes nothing.  The limits are set low here so that the
tests reach them in a few requests; the suite's other modules run with the
rates off (conftest).
"""
import threading
import time

import pytest
import requests

from client import assert_error, db_sql, mock_server
from groupkit import Player
from sessions import User, char_name

LIMITS = {"limits": {"characters_per_user": 3, "groups_per_user": 2,
                     "activity_per_request": 5}}
srv = mock_server(LIMITS)

# Logging in through the mock provider takes several requests without
# credentials (and the mock's own token and userinfo calls come from this
# host too), so the address burst leaves room for a few logins.
RATES = {"limits": {"token_rate": 1, "token_burst": 4, "session_rate": 1,
                    "session_burst": 4, "address_rate": 1, "address_burst": 40}}
rated = mock_server(RATES, scope="function")


def count(inst, sql):
    return int(db_sql(inst, sql))


# ---- what a user may own ----

def test_characters_per_user(srv):
    u = User(srv)
    names = [char_name() for _ in range(3)]
    for n in names:
        u.character(n)
    r = u.post("/api/v1/sync/characters", {"name": char_name()})
    assert_error(r, 422, "invalid")
    assert "characters_per_user" in r.json()["error"]["message"]
    assert count(srv, f"SELECT COUNT(*) FROM characters WHERE user_id = {u.id}") == 3
    # A character the user already has is still theirs to link again.
    assert u.post("/api/v1/sync/characters", {"name": names[0]}).status_code == 200
    # Unlinking one makes room.
    assert u.delete(f"/api/v1/sync/characters/{names[0]}").status_code == 204
    assert u.post("/api/v1/sync/characters", {"name": char_name()}).status_code == 201


def test_characters_per_user_holds_under_concurrent_links(srv):
    u = User(srv)
    answers = []

    def link():
        answers.append(u.post("/api/v1/sync/characters", {"name": char_name()}).status_code)
    threads = [threading.Thread(target=link) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201] * 3 + [422] * 5, answers
    assert count(srv, f"SELECT COUNT(*) FROM characters WHERE user_id = {u.id}") == 3


def test_groups_per_user_on_create_and_join(srv):
    owner = Player(srv, "o" + char_name())
    joiner = Player(srv, "j" + char_name())
    codes = [owner.create_group(f"G{i}")["join_code"] for i in range(2)]
    r = owner.post("/api/v1/groups", {"name": "one too many", "characters": []})
    assert_error(r, 422, "invalid")
    assert "groups_per_user" in r.json()["error"]["message"]
    assert count(srv, f"SELECT COUNT(*) FROM group_members WHERE user_id = {owner.id}") == 2

    # The joiner fills their own allowance, then a third join is refused.
    third = Player(srv, "t" + char_name()).create_group("Third")["join_code"]
    for code in codes:
        assert joiner.join(code).status_code == 200
    r = joiner.join(third)
    assert_error(r, 422, "invalid")
    assert "groups_per_user" in r.json()["error"]["message"]
    assert count(srv, f"SELECT COUNT(*) FROM group_members WHERE user_id = {joiner.id}") == 2
    # Leaving one makes room.
    gid = joiner.get("/api/v1/groups").json()["groups"][0]["id"]
    assert joiner.post(f"/api/v1/groups/{gid}/leave").status_code == 204
    assert joiner.join(third).status_code == 200


def test_activity_per_request(srv):
    u = User(srv)
    name = char_name()
    u.character(name)
    before = count(srv, "SELECT COUNT(*) FROM activity")
    r = u.post(f"/api/v1/sync/characters/{name}/activity",
               {"events": [{"kind": "loot"}] * 6})
    assert_error(r, 422, "invalid")
    assert count(srv, "SELECT COUNT(*) FROM activity") == before
    r = u.post(f"/api/v1/sync/characters/{name}/activity",
               {"events": [{"kind": "loot"}] * 5})
    assert r.status_code == 200, r.text


# ---- rates ----

def burst(n, fn):
    """Statuses of n calls of fn, as fast as they go."""
    return [fn().status_code for _ in range(n)]


def test_token_rate(rated):
    a, b = User(rated), User(rated)
    statuses = burst(8, lambda: a.get("/api/v1/sync/characters"))
    # A burst of 4, and perhaps one more refilled while the loop ran.
    assert statuses[:4] == [200] * 4, statuses
    assert statuses[-1] == 429 and statuses.count(200) <= 5, statuses
    r = a.get("/api/v1/sync/characters")
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    # Another token from the same address has a bucket of its own.
    assert b.get("/api/v1/sync/characters").status_code == 200


def test_session_rate(rated):
    p = Player(rated, "s" + char_name())
    # Logging in took some of the session's burst (GET /me, a token), and
    # the bucket refills while the test runs: at most the burst and the
    # refill get through.
    statuses = burst(8, lambda: p.get("/api/v1/me"))
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    assert statuses.count(200) <= 5, statuses
    # Refused writes change nothing.
    r = p.post("/api/v1/groups", {"name": "late", "characters": []})
    assert_error(r, 429, "rate_limited")
    assert count(rated, f"SELECT COUNT(*) FROM group_members WHERE user_id = {p.id}") == 0


def test_bucket_refills(rated):
    u = User(rated)
    statuses = burst(8, lambda: u.get("/api/v1/sync/characters"))
    assert statuses[-1] == 429
    retry = int(u.get("/api/v1/sync/characters").headers["Retry-After"])
    deadline = time.monotonic() + retry + 5
    while time.monotonic() < deadline:
        if u.get("/api/v1/sync/characters").status_code == 200:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the bucket never refilled")


def test_address_rate_for_requests_without_credentials(rated):
    valid = Player(rated, "v" + char_name())
    bad = {"Authorization": "Bearer cfr_" + "0" * 64}
    # Unknown tokens cost the caller's address: 401 until the bucket is
    # empty, then 429.
    statuses = burst(45, lambda: requests.get(rated.url + "/api/v1/sync/characters",
                                               headers=bad, timeout=5))
    assert statuses[0] == 401 and statuses[-1] == 429, statuses
    r = requests.get(rated.url + "/auth/providers", timeout=5)
    assert_error(r, 429, "rate_limited")
    # Valid credentials from the same address are counted apart.
    assert valid.get("/api/v1/me").status_code == 200


def test_probes_and_admin_are_never_limited(rated):
    for _ in range(30):
        assert requests.get(rated.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(rated.url + "/readyz", timeout=5).status_code == 200
        assert requests.get(rated.admin_url + "/metrics", timeout=5).status_code == 200


def test_rate_holds_across_workers(rated):
    """Each request on a new connection: the kernel spreads them over both
    workers, and the shared buckets still let only the burst through."""
    u = User(rated)
    statuses = []
    for _ in range(12):
        with requests.Session() as s:
            statuses.append(s.get(rated.url + "/api/v1/sync/characters",
                                  headers=u.bearer, timeout=5).status_code)
    assert 4 <= statuses.count(200) <= 5, statuses
