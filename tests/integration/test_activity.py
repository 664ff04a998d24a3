"""The activity feed and members' skills, through HTTP on a real cofferd,
on both engines: who may read them (members only, 404 otherwise),
cursor pagination without loss or repeats while entries arrive, and the
skills of a member's shared characters."""
import pytest

from client import assert_error, mock_server
from sessions import User, char_name, make_group

srv = mock_server()


def post_events(user, name, kinds):
    r = user.post(f"/api/v1/sync/characters/{name}/activity",
                  {"events": [{"kind": k, "data": {"n": i}} for i, k in kinds]})
    assert r.status_code == 200, r.text


def feed(user, gid, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return user.get(f"/api/v1/groups/{gid}/activity" + ("?" + q if q else ""))


def test_feed_pages_by_cursor_without_loss_or_repeats(srv):
    alice, bob = User(srv), User(srv)
    a, b = char_name(), char_name()
    ca, cb = alice.character(a), bob.character(b)
    gid = make_group(srv, alice, {alice: [ca], bob: [cb]})
    for start in range(0, 45, 15):
        post_events(alice, a, [(i, "loot") for i in range(start, start + 15)])
    post_events(bob, b, [(100, "quest")])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        r = feed(bob, gid, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["activity"]) <= 7
        seen += body["activity"]
        pages += 1
        if pages == 2:      # new entries arriving mid-walk do not shift it
            post_events(alice, a, [(200, "death")])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    ids = [e["id"] for e in seen]
    assert len(ids) == 46 and len(set(ids)) == 46
    assert ids == sorted(ids, reverse=True)
    assert pages == 7
    first = seen[0]
    assert first["kind"] == "quest" and first["character"] == b
    assert first["user_id"] == bob.id and first["data"] == {"n": 100}
    assert first["created_at"].endswith("Z")
    assert seen[-1]["data"] == {"n": 0} and seen[-1]["user_id"] == alice.id
    # The newest entry heads a fresh first page; the default limit is 50.
    r = feed(alice, gid).json()
    assert len(r["activity"]) == 47 and r["next_cursor"] is None
    assert r["activity"][0]["kind"] == "death"


def test_feed_members_only(srv):
    alice, eve = User(srv), User(srv)
    ca = alice.character(char_name())
    gid = make_group(srv, alice, {alice: [ca]})
    assert feed(alice, gid).status_code == 200
    # The web session reads as well as the token.
    r = alice.web.get(f"{srv.url}/api/v1/groups/{gid}/activity")
    assert r.status_code == 200 and r.json()["activity"] == []
    for path in (gid, gid + 100000, "abc", 0, -1):
        assert_error(eve.get(f"/api/v1/groups/{path}/activity"), 404, "not_found")
    assert_error(alice.call("GET", f"/api/v1/groups/{gid}/activity",
                            headers={"Authorization": "Bearer cfr_nope"}),
                 401, "unauthorized")


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "limit=-1",
                                   "cursor=abc", "cursor=a0", "cursor=a-5", "cursor=5",
                                   "cursor=a99999999999999999999"])
def test_feed_bad_parameters(srv, query):
    alice = User(srv)
    gid = make_group(srv, alice, {})
    assert_error(alice.get(f"/api/v1/groups/{gid}/activity?{query}"), 400, "bad_request")


def test_member_skills(srv):
    alice, bob, eve = User(srv), User(srv), User(srv)
    a1, a2, a3 = char_name(), char_name(), char_name()
    ids = [alice.character(n) for n in (a1, a2, a3)]
    cb = bob.character(char_name())
    gid = make_group(srv, alice, {alice: ids[:2], bob: [cb]})
    r = alice.put(f"/api/v1/sync/characters/{a1}/skills",
                  {"seq": 1, "skills": {"attack": 1000, "magic": 13034431}})
    assert r.status_code == 200, r.text
    alice.put(f"/api/v1/sync/characters/{a3}/skills", {"seq": 1, "skills": {"attack": 5}})
    r = bob.get(f"/api/v1/groups/{gid}/members/{alice.id}/skills")
    assert r.status_code == 200, r.text
    chars = r.json()["characters"]
    assert [c["name"] for c in chars] == [a1, a2]       # a3 is not shared
    assert chars[0]["skills"] == {"attack": {"xp": 1000, "level": 9},
                                  "magic": {"xp": 13034431, "level": 99}}
    assert chars[0]["updated_at"].endswith("Z")
    assert chars[1] == {"name": a2, "skills": {}, "updated_at": None}
    r = alice.web.get(f"{srv.url}/api/v1/groups/{gid}/members/{bob.id}/skills")
    assert r.status_code == 200 and r.json()["characters"][0]["skills"] == {}
    # A non-member caller, or a user who is not a member: 404.
    assert_error(eve.get(f"/api/v1/groups/{gid}/members/{alice.id}/skills"),
                 404, "not_found")
    assert_error(alice.get(f"/api/v1/groups/{gid}/members/{eve.id}/skills"),
                 404, "not_found")
    assert_error(alice.get(f"/api/v1/groups/{gid}/members/x/skills"), 404, "not_found")
    assert_error(alice.get(f"/api/v1/groups/{gid + 100000}/members/{alice.id}/skills"),
                 404, "not_found")
