"""Helpers for the sync and activity tests: users with sessions and plugin
tokens (through the mock OAuth provider, like a real login), direct SQL
for what the API under test does not expose, and groups set up in the
database so these tests do not depend on the groups API.

A User is a client.Account whose request verbs speak as the plugin: the
Bearer token, JSON bodies sent as raw text so the bad-input corpus can
send anything.  Its web session is .web (with .csrf).  groupkit.Player is
the other way round; see there.

Every helper takes the Cofferd instance first.  Users get fresh random
logins, so tests sharing one server never see each other's data.
"""
import json
import uuid

import requests

from client import TIMEOUT, Account
from client import db_sql as sql

JSON = {"Content-Type": "application/json"}


class User(Account):
    """A logged-in user: a web session and a plugin token."""

    def __init__(self, inst, name=None):
        login = name or "u" + uuid.uuid4().hex[:10]
        super().__init__(inst, login, login)

    # Plugin requests (bearer token).
    def call(self, method, path, body=None, raw=None, headers=None):
        h = dict(self.bearer)
        if body is not None or raw is not None:
            h.update(JSON)
        h.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return requests.request(method, self.inst.url + path, data=data, headers=h,
                                timeout=TIMEOUT)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def character(self, name):
        """Link a character; returns its id."""
        r = self.post("/api/v1/sync/characters", {"name": name})
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]


def char_name():
    """A fresh valid character name (12 characters)."""
    return "c" + uuid.uuid4().hex[:11]


def make_group(inst, owner, shares):
    """A group owned by owner (a User) with members; shares maps each User
    (the owner included, if it shares) to the character ids it shares.
    Returns the group id."""
    code = uuid.uuid4().hex[:12].upper()
    gid = int(sql(inst, "INSERT INTO groups (name, owner_id, join_code) VALUES "
                        f"('g', {owner.id}, '{code}') RETURNING id"))
    members = {owner.id: owner} | {u.id: u for u in shares}
    for uid in members:
        role = "owner" if uid == owner.id else "member"
        sql(inst, "INSERT INTO group_members (group_id, user_id, role) VALUES "
                  f"({gid}, {uid}, '{role}')")
    for u, chars in shares.items():
        for cid in chars:
            sql(inst, "INSERT INTO group_characters (group_id, user_id, character_id) "
                      f"VALUES ({gid}, {u.id}, {cid})")
    return gid

