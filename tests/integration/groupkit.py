"""Helpers for the groups and vault tests: players who log in through the
mock OAuth provider, make a plugin token, link characters and sync their
containers, all through HTTP like the web app and the plugin would.

A Player is a client.Account whose request verbs speak as the web app: the
logged-in session, with X-CSRF-Token on every state-changing call.  The
plugin's calls (tget, link, sync) use the Bearer token.  The sync tests'
sessions.User is the other way round, because there the plugin is what is
under test; the two differ in that default, not in how they log in.
"""
import json
import os

import requests

from client import TIMEOUT, Account
from helpers import srcdir

CONTAINERS = ["inventory", "equipment", "bank", "group_storage", "seed_vault",
              "rune_pouch", "quiver", "looting_bag"]


class Player(Account):
    """One user: a web session and a plugin token."""

    def __init__(self, inst, login, name=None):
        super().__init__(inst, login, name or login.title())

    # ---- the web session (CSRF header on writes) ----

    def _csrf(self):
        return dict(self.csrf)          # a copy: raw() adds to it

    def get(self, path, **kw):
        return self.web.get(self.inst.url + path, timeout=TIMEOUT, **kw)

    def post(self, path, body=None, **kw):
        return self.web.post(self.inst.url + path, json=body, headers=self._csrf(),
                           timeout=TIMEOUT, **kw)

    def put(self, path, body=None, **kw):
        return self.web.put(self.inst.url + path, json=body, headers=self._csrf(),
                          timeout=TIMEOUT, **kw)

    def patch(self, path, body=None, **kw):
        return self.web.patch(self.inst.url + path, json=body, headers=self._csrf(),
                            timeout=TIMEOUT, **kw)

    def delete(self, path, **kw):
        return self.web.delete(self.inst.url + path, headers=self._csrf(),
                             timeout=TIMEOUT, **kw)

    def raw(self, method, path, data=None, content_type="application/json"):
        """A session request with a raw body (bad-input tests)."""
        headers = self._csrf()
        if content_type:
            headers["Content-Type"] = content_type
        return self.web.request(method, self.inst.url + path, data=data,
                              headers=headers, timeout=TIMEOUT)

    # ---- the plugin (bearer token) ----

    def tget(self, path, **kw):
        return requests.get(self.inst.url + path, headers=self.bearer,
                            timeout=TIMEOUT, **kw)

    def link(self, name):
        r = requests.post(self.inst.url + "/api/v1/sync/characters",
                          json={"name": name}, headers=self.bearer, timeout=TIMEOUT)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def sync(self, name, container, items, seq=1):
        """PUT a container's full state; items is [(id, qty), ...]."""
        r = requests.put(
            f"{self.inst.url}/api/v1/sync/characters/{name}/containers/{container}",
            json={"seq": seq, "items": [{"id": i, "qty": q} for i, q in items]},
            headers=self.bearer, timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["applied"], r.text
        return r.json()

    # ---- groups ----

    def create_group(self, name="Guild", characters=()):
        r = self.post("/api/v1/groups", {"name": name, "characters": list(characters)})
        assert r.status_code == 201, r.text
        return r.json()

    def join(self, code, characters=()):
        return self.post("/api/v1/groups/join",
                         {"code": code, "characters": list(characters)})


_catalog = None


def catalog():
    """{item id: (name, price)} of the shipped catalog."""
    global _catalog
    if _catalog is None:
        with open(os.path.join(srcdir(), "data", "item-catalog.json")) as f:
            doc = json.load(f)
        _catalog = {it["id"]: (it["name"], it["price"]) for it in doc["items"]}
    return _catalog

