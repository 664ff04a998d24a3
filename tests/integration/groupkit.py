"""Helpers for the groups and vault tests: players who log in through the
mock OAuth provider, make a plugin token, link characters and sync their
containers, all through HTTP like the web app and the plugin would.

A Player wraps a logged-in requests.Session (cookies, and X-CSRF-Token on
every state-changing call) and a Bearer token for the sync API.
"""
import json
import os

import requests

from helpers import srcdir

TIMEOUT = 10
CONTAINERS = ["inventory", "equipment", "bank", "group_storage", "seed_vault",
              "rune_pouch", "quiver", "looting_bag"]

MOCK_AUTH = {"auth": {"mock_provider": "on"}}


def start(launcher, engine):
    """A cofferd with the mock provider, once the default catalog (loaded
    by a start-up task, after ready) is in."""
    inst = launcher.start(engine, MOCK_AUTH)
    inst.wait_log(r"catalog: loaded default catalog", timeout=60)
    return inst


class Player:
    """One user: a web session and a plugin token."""

    def __init__(self, inst, login, name=None):
        self.inst = inst
        self.login = login
        self.s = requests.Session()
        r = self.s.get(inst.url + "/auth/login/mock",
                       params={"login_hint": login, "name": name or login.title()},
                       timeout=TIMEOUT)
        assert r.status_code == 200 and self.s.cookies.get("coffer_session"), r.text
        me = self.get("/api/v1/me")
        assert me.status_code == 200, me.text
        self.id = me.json()["id"]
        r = self.post("/api/v1/me/tokens", {"label": "plugin"})
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]
        self.bearer = {"Authorization": "Bearer " + self.token}

    # ---- the web session (CSRF header on writes) ----

    def _csrf(self):
        return {"X-CSRF-Token": self.s.cookies.get("coffer_csrf")}

    def get(self, path, **kw):
        return self.s.get(self.inst.url + path, timeout=TIMEOUT, **kw)

    def post(self, path, body=None, **kw):
        return self.s.post(self.inst.url + path, json=body, headers=self._csrf(),
                           timeout=TIMEOUT, **kw)

    def put(self, path, body=None, **kw):
        return self.s.put(self.inst.url + path, json=body, headers=self._csrf(),
                          timeout=TIMEOUT, **kw)

    def patch(self, path, body=None, **kw):
        return self.s.patch(self.inst.url + path, json=body, headers=self._csrf(),
                            timeout=TIMEOUT, **kw)

    def delete(self, path, **kw):
        return self.s.delete(self.inst.url + path, headers=self._csrf(),
                             timeout=TIMEOUT, **kw)

    def raw(self, method, path, data=None, content_type="application/json"):
        """A session request with a raw body (bad-input tests)."""
        headers = self._csrf()
        if content_type:
            headers["Content-Type"] = content_type
        return self.s.request(method, self.inst.url + path, data=data,
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


def error_code(r):
    return r.json()["error"]["code"]
