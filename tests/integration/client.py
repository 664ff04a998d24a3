"""Talking to a running cofferd the way its clients do, once for the whole
suite: a server with the mock OAuth provider, logging in through it, plugin
tokens, the error shape, and a look at the database behind the API.

  MOCK_AUTH       the [auth] setting that turns the mock provider on.
  start_mock      start a cofferd with the mock provider (and, if asked,
                  wait until the default catalog is loaded).
  mock_server     a fixture factory: `srv = mock_server()` in a test module
                  gives it one such cofferd per engine.
  login           log in through the whole redirect chain; (session, reply).
  csrf            the X-CSRF-Token header a session's writes need.
  create_token    a plugin token for a logged-in session.
  Account         a logged-in user with a plugin token (groupkit.Player
                  and sessions.User build on it).
  assert_error    a reply is the documented error: status, JSON, code and
                  a message (docs/API.md, the opening conventions).
  db_sql, db_rows one statement on an instance's own database, either
                  engine, as text or as rows.

Tests that exercise one of these steps itself (test_auth's token and
callback tests) still spell the requests out: there the request is what
is under test, not a means to an end.
"""
import subprocess

import pytest
import requests

from conftest import Launcher
from helpers import merge_settings, psql

TIMEOUT = 10
MOCK_AUTH = {"auth": {"mock_provider": "on"}}


# ---- a server with the mock provider ----

def start_mock(start, engine, settings=None, catalog=False):
    """A cofferd with the mock provider on, settings merged over it.

    start is the cofferd fixture or a Launcher's start.  With catalog, wait
    for the default catalog: a start-up task loads it after "ready", and
    the vault's prices come from it.
    """
    inst = start(engine, merge_settings(MOCK_AUTH, settings))
    if catalog:
        inst.wait_log(r"catalog: loaded default catalog", timeout=60)
    return inst


def mock_server(settings=None, catalog=False, scope="module"):
    """A fixture giving each engine one cofferd with the mock provider.

    Assign it to the name the module's tests use (`srv = mock_server()`);
    pytest registers a fixture under the name it is found by.  The module
    scope shares one server between a module's tests, which keep apart by
    using fresh logins; scope="function" gives each test its own.
    """
    @pytest.fixture(scope=scope)
    def fixture(request, engine, tmp_path_factory):
        launcher = Launcher(tmp_path_factory)
        # Registered first, so a start that fails still gets cleaned up.
        request.addfinalizer(launcher.close)
        return start_mock(launcher.start, engine, settings, catalog)
    return fixture


# ---- logging in, tokens ----

def login(inst, who, name=None, next_path=None):
    """Log in through the mock provider's whole redirect chain (login ->
    authorize -> callback -> next), like curl -c jar -b jar -L.

    Returns (requests.Session holding the cookies, the final reply).
    """
    s = requests.Session()
    params = {"login_hint": who}
    if name is not None:
        params["name"] = name
    if next_path is not None:
        params["next"] = next_path
    r = s.get(inst.url + "/auth/login/mock", params=params, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert [h.status_code for h in r.history] == [302, 302, 302], r.text
    assert s.cookies.get("coffer_session"), r.history[-1].headers
    return s, r


def csrf(s):
    """The header a session's state-changing requests need."""
    return {"X-CSRF-Token": s.cookies.get("coffer_csrf")}


def create_token(inst, s, label="plugin"):
    """A new plugin token for session s; the reply's JSON (id, token, ...)."""
    r = s.post(inst.url + "/api/v1/me/tokens", json={"label": label},
               headers=csrf(s), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


class Account:
    """A user logged in through the mock provider, with a plugin token.

    .web is the session (cookies), .csrf its header, .id the user id,
    .token and .bearer the plugin's credential.  Subclasses choose which
    credential their request verbs use: the groups tests act as the web
    app (groupkit.Player), the sync tests as the plugin (sessions.User).
    """

    def __init__(self, inst, login_name, display_name):
        self.inst = inst
        self.login = login_name
        self.web, _ = login(inst, login_name, display_name)
        self.csrf = csrf(self.web)
        me = self.web.get(inst.url + "/api/v1/me", timeout=TIMEOUT)
        assert me.status_code == 200, me.text
        self.id = me.json()["id"]
        self.token = create_token(inst, self.web)["token"]
        self.bearer = {"Authorization": "Bearer " + self.token}


# ---- the error shape ----

def assert_error(r, status, code, *context):
    """r is the documented error reply: status, a JSON body that is only
    {"error": {"code", "message"}}, this code and a non-empty message.
    context (anything) is added to the failure message."""
    where = (*context, r.status_code, r.text)
    assert r.status_code == status, where
    assert r.headers.get("Content-Type", "").startswith("application/json"), where
    body = r.json()
    assert set(body) == {"error"}, where
    assert body["error"]["code"] == code, where
    message = body["error"].get("message")
    assert isinstance(message, str) and message, where


# ---- behind the API ----

def db_sql(inst, query):
    """One statement against a cofferd instance's own database, on either
    engine; psql-style unaligned output (columns joined by |, rows by
    newlines)."""
    if inst.engine == "postgres":
        return psql(inst.dsn, query)
    out = subprocess.run(["sqlite3", "-batch", "-noheader", "-cmd", ".timeout 10000",
                          inst.settings["database"]["sqlite_path"], query],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def db_rows(inst, query):
    """db_sql's output as rows, each a list of strings."""
    return [line.split("|") for line in db_sql(inst, query).splitlines() if line]
