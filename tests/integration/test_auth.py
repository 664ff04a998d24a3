"""Authentication and the account API, through HTTP on a real cofferd with
the mock OAuth provider, on both engines: the login flow (state, PKCE,
single-use codes, the next redirect), cookies, CSRF, plugin tokens,
sessions, logout and account deletion."""
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from client import (TIMEOUT, assert_error, create_token, csrf, login, mock_server,
                    start_mock)
from client import db_rows as sql

SESSION_TTL = 30 * 86400        # the [auth] session_ttl default

auth = mock_server()


def me(inst, s, **kw):
    return s.get(inst.url + "/api/v1/me", timeout=TIMEOUT, **kw)


def callback_url(inst, who="alice", next_path=None):
    """Run login and authorize without following; (the browser, holding
    the login cookie the callback requires, and the callback URL).
    (client.login follows the whole chain; these tests stop before the
    callback, whose reply is what they check.)"""
    s = requests.Session()
    params = {"login_hint": who}
    if next_path is not None:
        params["next"] = next_path
    r = s.get(inst.url + "/auth/login/mock", params=params,
              allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    r = s.get(r.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    return s, r.headers["Location"]


def pkce():
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


# ---- the login flow ----

def test_providers_list_mock(auth):
    r = requests.get(auth.url + "/auth/providers", timeout=TIMEOUT)
    assert r.status_code == 200
    assert "mock" in [p["name"] for p in r.json()["providers"]]


def test_login_leaves_a_logged_in_session(auth):
    s, r = login(auth, "alice", "Alice")
    assert urlparse(r.url).path == "/app"
    got = me(auth, s)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["login"] == "alice"
    assert body["display_name"] == "Alice"
    assert body["plan"] == "free"
    assert isinstance(body["id"], int)
    assert body["created_at"].endswith("Z")
    assert body["csrf_token"] == s.cookies.get("coffer_csrf")


def test_login_authorize_redirect_carries_oauth_parameters(auth):
    r = requests.get(auth.url + "/auth/login/mock",
                     params={"login_hint": "alice", "name": "A l"},
                     allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    loc = urlparse(r.headers["Location"])
    q = {k: v[0] for k, v in parse_qs(loc.query).items()}
    assert loc.path == "/auth/mock/authorize"
    assert q["response_type"] == "code"
    assert q["client_id"] == "coffer"
    assert q["redirect_uri"] == auth.url + "/auth/callback/mock"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43 and len(q["state"]) >= 43
    assert q["login_hint"] == "alice" and q["name"] == "A l"


def test_unknown_provider_is_404(auth):
    assert_error(requests.get(auth.url + "/auth/login/nope", timeout=TIMEOUT),
                 404, "not_found")
    assert_error(requests.get(auth.url + "/auth/callback/nope?code=a&state=b",
                              timeout=TIMEOUT), 404, "not_found")


def test_mock_authorize_without_login_hint_shows_a_form(auth):
    r = requests.get(auth.url + "/auth/login/mock", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<form" in r.text and 'name="login_hint"' in r.text
    # Submitting the form (a POST of the same fields) logs in.
    s = requests.Session()
    page = s.get(auth.url + "/auth/login/mock", allow_redirects=False, timeout=TIMEOUT)
    fields = parse_qs(urlparse(page.headers["Location"]).query)
    form = {k: v[0] for k, v in fields.items()}
    form["login_hint"] = "formuser"
    r = s.post(auth.url + "/auth/mock/authorize", data=form, timeout=TIMEOUT)
    assert [h.status_code for h in r.history] == [302, 302]
    assert me(auth, s).json()["login"] == "formuser"


def test_login_again_is_the_same_user_with_its_own_name(auth):
    s1, _ = login(auth, "dave", "Dave")
    s2, _ = login(auth, "dave", "David")
    a, b = me(auth, s1).json(), me(auth, s2).json()
    assert a["id"] == b["id"]
    assert b["display_name"] == "Dave"      # set at sign-up, kept at later logins
    assert s1.cookies.get("coffer_session") != s2.cookies.get("coffer_session")


def test_cookie_attributes(auth):
    s, url = callback_url(auth)
    r = s.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in r.raw.headers.getlist("Set-Cookie")}
    sess, tok = cookies["coffer_session"], cookies["coffer_csrf"]
    for c in (sess, tok):
        attrs = [a.strip() for a in c.split(";")]
        assert "Path=/" in attrs
        assert "SameSite=Lax" in attrs
        assert f"Max-Age={SESSION_TTL}" in attrs
        assert "Secure" not in attrs
    assert "HttpOnly" in [a.strip() for a in sess.split(";")]
    assert "HttpOnly" not in [a.strip() for a in tok.split(";")]


def test_cookie_secure_when_configured(cofferd):
    inst = start_mock(cofferd, "sqlite", {"auth": {"cookie_secure": "on",
                                                   "session_ttl": "1h"}})
    s, url = callback_url(inst)
    # The login cookie is Secure too, so this plain-HTTP client sends it by hand.
    r = requests.get(url, cookies={"coffer_login": s.cookies.get("coffer_login")},
                     allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    for c in r.raw.headers.getlist("Set-Cookie"):
        if c.startswith("coffer_login="):
            continue        # the login cookie, expired (test_login_hardening.py)
        attrs = [a.strip() for a in c.split(";")]
        assert "Secure" in attrs and "Max-Age=3600" in attrs


def test_mock_provider_off_is_404(cofferd):
    inst = cofferd("sqlite")
    for path in ("/auth/login/mock", "/auth/mock/authorize?login_hint=a",
                 "/auth/mock/userinfo"):
        assert_error(requests.get(inst.url + path, timeout=TIMEOUT), 404, "not_found")
    assert requests.get(inst.url + "/auth/providers", timeout=TIMEOUT).json() == \
        {"providers": []}


def test_replayed_state_is_400(auth):
    s, url = callback_url(auth)
    first = s.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert first.status_code == 302
    assert_error(s.get(url, allow_redirects=False, timeout=TIMEOUT),
                 400, "bad_request")


def test_unknown_state_is_400(auth):
    s, url = callback_url(auth)
    q = parse_qs(urlparse(url).query)
    bad = f"{auth.url}/auth/callback/mock?code={q['code'][0]}&state=forged"
    assert_error(s.get(bad, allow_redirects=False, timeout=TIMEOUT),
                 400, "bad_request")


def test_tampered_code_is_400(auth):
    s, url = callback_url(auth)
    q = parse_qs(urlparse(url).query)
    code = q["code"][0]
    tampered = ("A" if code[0] != "A" else "B") + code[1:]
    bad = f"{auth.url}/auth/callback/mock?code={tampered}&state={q['state'][0]}"
    assert_error(s.get(bad, allow_redirects=False, timeout=TIMEOUT),
                 400, "bad_request")


def mock_code(inst, challenge, who="pkceuser"):
    r = requests.get(inst.url + "/auth/mock/authorize", params={
        "response_type": "code", "client_id": "coffer",
        "redirect_uri": inst.url + "/auth/callback/mock", "state": "s1",
        "code_challenge": challenge, "code_challenge_method": "S256",
        "login_hint": who, "name": "P"}, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    q = parse_qs(urlparse(r.headers["Location"]).query)
    assert q["state"] == ["s1"]
    return q["code"][0]


def token_request(inst, code, verifier):
    return requests.post(inst.url + "/auth/mock/token", data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": inst.url + "/auth/callback/mock", "client_id": "coffer",
        "code_verifier": verifier}, timeout=TIMEOUT)


def test_mock_token_checks_pkce_and_single_use(auth):
    verifier, challenge = pkce()
    code = mock_code(auth, challenge)
    other, _ = pkce()
    assert_error(token_request(auth, code, other), 400, "bad_request")
    # The code was consumed by the failed attempt.
    assert_error(token_request(auth, code, verifier), 400, "bad_request")

    code = mock_code(auth, challenge)
    r = token_request(auth, code, verifier)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    access = r.json()["access_token"]
    info = requests.get(auth.url + "/auth/mock/userinfo",
                        headers={"Authorization": "Bearer " + access}, timeout=TIMEOUT)
    assert info.json() == {"sub": "pkceuser", "name": "P"}
    assert_error(token_request(auth, code, verifier), 400, "bad_request")
    assert_error(requests.get(auth.url + "/auth/mock/userinfo",
                              headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT),
                 401, "unauthorized")


def test_mock_authorize_rejects_foreign_redirect_uri(auth):
    _, challenge = pkce()
    r = requests.get(auth.url + "/auth/mock/authorize", params={
        "response_type": "code", "client_id": "coffer",
        "redirect_uri": "https://evil.example/cb", "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256",
        "login_hint": "x"}, allow_redirects=False, timeout=TIMEOUT)
    assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("next_path", [
    "//evil.com", "https://evil.com", "/\\evil.com", "evil.com", "/\r\nSet-Cookie: x=1",
    "///evil.com", ""])
def test_open_redirects_go_to_app(auth, next_path):
    s, url = callback_url(auth, next_path=next_path)
    r = s.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    assert r.headers["Location"] == "/app"


def test_next_relative_path_is_kept(auth):
    s, url = callback_url(auth, next_path="/app/groups/7?tab=vault")
    r = s.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert r.headers["Location"] == "/app/groups/7?tab=vault"


# ---- CSRF ----

def test_csrf_required_for_state_changes(auth):
    s, _ = login(auth, "erin", "Erin")
    url = auth.url + "/api/v1/me"
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        assert_error(s.post(url + "/tokens", json={"label": "x"}, headers=headers,
                            timeout=TIMEOUT), 403, "forbidden")
        assert_error(s.patch(url, json={"display_name": "Hacked"}, headers=headers,
                             timeout=TIMEOUT), 403, "forbidden")
        assert_error(s.delete(url, headers=headers, timeout=TIMEOUT), 403, "forbidden")
        assert_error(s.post(auth.url + "/auth/logout", headers=headers,
                            timeout=TIMEOUT), 403, "forbidden")
    # Nothing changed.
    assert me(auth, s).json()["display_name"] == "Erin"
    assert s.get(url + "/tokens", timeout=TIMEOUT).json() == {"tokens": []}
    # With the header, it works.
    r = s.patch(url, json={"display_name": "Erin B"}, headers=csrf(s), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Erin B"
    assert me(auth, s).json()["display_name"] == "Erin B"


def test_no_credentials_is_401(auth):
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/me/tokens"),
                         ("POST", "/api/v1/me/tokens"), ("POST", "/auth/logout")):
        assert_error(requests.request(method, auth.url + path, timeout=TIMEOUT),
                     401, "unauthorized")
    assert_error(requests.get(auth.url + "/api/v1/me", timeout=TIMEOUT,
                              cookies={"coffer_session": "forged"}), 401, "unauthorized")
    assert_error(requests.get(auth.url + "/api/v1/me", timeout=TIMEOUT,
                              headers={"Authorization": "Bearer cfr_forged"}),
                 401, "unauthorized")


# ---- plugin tokens ----

def test_tokens_create_use_revoke(auth):
    s, _ = login(auth, "frank", "Frank")
    url = auth.url + "/api/v1/me/tokens"
    r = s.post(url, json={"label": "laptop"}, headers=csrf(s), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    tok = r.json()
    assert tok["token"].startswith("cfr_") and len(tok["token"]) == 47
    assert tok["label"] == "laptop" and tok["last_used_at"] is None
    assert set(tok) >= {"id", "label", "created_at", "last_used_at"}

    listed = s.get(url, timeout=TIMEOUT).json()["tokens"]
    assert [t["id"] for t in listed] == [tok["id"]]
    assert "token" not in listed[0]

    bearer = {"Authorization": "Bearer " + tok["token"]}
    r = requests.get(auth.url + "/api/v1/me", headers=bearer, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["login"] == "frank"
    assert "csrf_token" not in r.json()
    used = s.get(url, timeout=TIMEOUT).json()["tokens"][0]
    assert used["last_used_at"] is not None

    # A token reads but does not manage the account (no CSRF needed, 403).
    assert_error(requests.post(url, json={"label": "x"}, headers=bearer,
                               timeout=TIMEOUT), 403, "forbidden")

    r = s.delete(f"{url}/{tok['id']}", headers=csrf(s), timeout=TIMEOUT)
    assert r.status_code == 204
    assert_error(requests.get(auth.url + "/api/v1/me", headers=bearer, timeout=TIMEOUT),
                 401, "unauthorized")
    assert s.get(url, timeout=TIMEOUT).json() == {"tokens": []}
    assert_error(s.delete(f"{url}/{tok['id']}", headers=csrf(s), timeout=TIMEOUT),
                 404, "not_found")


def test_token_label_validation(auth):
    s, _ = login(auth, "gina")
    url = auth.url + "/api/v1/me/tokens"
    h = csrf(s)
    assert_error(s.post(url, json={"label": ""}, headers=h, timeout=TIMEOUT), 422, "invalid")
    assert_error(s.post(url, json={"label": "x" * 65}, headers=h, timeout=TIMEOUT),
                 422, "invalid")
    assert_error(s.post(url, json={}, headers=h, timeout=TIMEOUT), 422, "invalid")
    assert_error(s.post(url, json={"label": 5}, headers=h, timeout=TIMEOUT), 422, "invalid")
    assert_error(s.post(url, json={"label": "ok", "extra": 1}, headers=h, timeout=TIMEOUT),
                 422, "invalid")
    assert_error(s.post(url, data="{nope", headers={**h, "Content-Type": "application/json"},
                        timeout=TIMEOUT), 400, "bad_request")
    assert_error(s.post(url, data="label=x", headers={
        **h, "Content-Type": "application/x-www-form-urlencoded"}, timeout=TIMEOUT),
                 415, "unsupported_media_type")
    assert s.get(url, timeout=TIMEOUT).json() == {"tokens": []}
    r = s.post(url, json={"label": "é" * 64}, headers=h, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    assert r.json()["label"] == "é" * 64


# ---- sessions, logout, account deletion ----

def test_logout_invalidates_the_session(auth):
    s, _ = login(auth, "hank")
    old = s.cookies.get("coffer_session")
    r = s.post(auth.url + "/auth/logout", headers=csrf(s), timeout=TIMEOUT)
    assert r.status_code == 204
    assert "coffer_session=;" in r.headers["Set-Cookie"]
    assert_error(requests.get(auth.url + "/api/v1/me", cookies={"coffer_session": old},
                              timeout=TIMEOUT), 401, "unauthorized")


def test_sessions_list_and_delete(auth):
    s1, _ = login(auth, "ivy")
    s2, _ = login(auth, "ivy")
    listed = s1.get(auth.url + "/api/v1/me/sessions", timeout=TIMEOUT).json()["sessions"]
    assert len(listed) == 2
    assert [x["current"] for x in listed].count(True) == 1
    assert set(listed[0]) >= {"id", "created_at", "last_seen_at", "user_agent", "current"}
    other = next(x["id"] for x in listed if not x["current"])
    r = s1.delete(f"{auth.url}/api/v1/me/sessions/{other}", headers=csrf(s1), timeout=TIMEOUT)
    assert r.status_code == 204
    assert_error(me(auth, s2), 401, "unauthorized")
    assert me(auth, s1).status_code == 200
    assert_error(s1.delete(f"{auth.url}/api/v1/me/sessions/{other}", headers=csrf(s1),
                           timeout=TIMEOUT), 404, "not_found")
    assert_error(s1.delete(f"{auth.url}/api/v1/me/sessions/abc", headers=csrf(s1),
                           timeout=TIMEOUT), 404, "not_found")


def test_users_do_not_see_each_other(auth):
    a, _ = login(auth, "jack")
    b, _ = login(auth, "kate")
    tok = create_token(auth, a, "j")
    assert b.get(auth.url + "/api/v1/me/tokens", timeout=TIMEOUT).json() == {"tokens": []}
    assert_error(b.delete(f"{auth.url}/api/v1/me/tokens/{tok['id']}", headers=csrf(b),
                          timeout=TIMEOUT), 404, "not_found")
    sid = a.get(auth.url + "/api/v1/me/sessions", timeout=TIMEOUT).json()["sessions"][0]["id"]
    bs = b.get(auth.url + "/api/v1/me/sessions", timeout=TIMEOUT).json()["sessions"]
    assert sid not in [x["id"] for x in bs]
    assert_error(b.delete(f"{auth.url}/api/v1/me/sessions/{sid}", headers=csrf(b),
                          timeout=TIMEOUT), 404, "not_found")
    # Still working for their owner.
    assert requests.get(auth.url + "/api/v1/me", timeout=TIMEOUT,
                        headers={"Authorization": "Bearer " + tok["token"]}).status_code == 200
    assert me(auth, a).status_code == 200


def test_delete_me_removes_the_user(auth):
    s, _ = login(auth, "liam", "Liam")
    first = me(auth, s).json()["id"]
    tok = create_token(auth, s, "t")["token"]
    old = s.cookies.get("coffer_session")
    r = s.delete(auth.url + "/api/v1/me", headers=csrf(s), timeout=TIMEOUT)
    assert r.status_code == 204
    assert_error(requests.get(auth.url + "/api/v1/me", cookies={"coffer_session": old},
                              timeout=TIMEOUT), 401, "unauthorized")
    assert_error(requests.get(auth.url + "/api/v1/me", timeout=TIMEOUT,
                              headers={"Authorization": "Bearer " + tok}), 401, "unauthorized")
    s2, _ = login(auth, "liam", "Liam")
    again = me(auth, s2).json()
    assert again["id"] != first and again["login"] == "liam"


def test_delete_me_passes_owned_groups_on(auth):
    """Owned groups go to the earliest-joined admin, else the earliest
    member, else are deleted -- in the same transaction as the account."""
    users = {}
    for who in ("gown", "gadm1", "gadm2", "gmem"):
        s, _ = login(auth, who)
        users[who] = (s, me(auth, s).json()["id"])
    owner = users["gown"][1]

    def group(name, members):
        gid = sql(auth, f"INSERT INTO groups (name, owner_id, join_code) VALUES "
                        f"('{name}', {owner}, '{secrets.token_hex(8)}') RETURNING id")[0][0]
        rows = [(owner, "owner", "2025-12-01T00:00:00.000Z")] + members
        values = ", ".join(f"({gid}, {u}, '{role}', '{t}')" for u, role, t in rows)
        sql(auth, "INSERT INTO group_members (group_id, user_id, role, joined_at) "
                  f"VALUES {values}")
        return gid

    adm1, adm2, mem = users["gadm1"][1], users["gadm2"][1], users["gmem"][1]
    g1 = group("g1", [(mem, "member", "2026-01-01T00:00:00.000Z"),
                      (adm1, "admin", "2026-01-03T00:00:00.000Z"),
                      (adm2, "admin", "2026-01-02T00:00:00.000Z")])
    g2 = group("g2", [(mem, "member", "2026-01-01T00:00:00.000Z")])
    g3 = group("g3", [])

    s = users["gown"][0]
    assert s.delete(auth.url + "/api/v1/me", headers=csrf(s), timeout=TIMEOUT).status_code == 204
    owners = dict(map(tuple, sql(auth, f"SELECT id, owner_id FROM groups "
                                       f"WHERE id IN ({g1}, {g2}, {g3})")))
    assert owners == {str(g1): str(adm2), str(g2): str(mem)}
    roles = sql(auth, f"SELECT group_id, user_id FROM group_members WHERE role = 'owner' "
                      f"AND group_id IN ({g1}, {g2}) ORDER BY group_id")
    assert roles == [[str(g1), str(adm2)], [str(g2), str(mem)]]
    assert sql(auth, f"SELECT count(*) FROM group_members WHERE user_id = {owner}") == [["0"]]
    assert sql(auth, f"SELECT count(*) FROM users WHERE id = {owner}") == [["0"]]


def test_login_with_one_worker_does_not_block(cofferd, engine):
    """The callback calls this same server's /auth/mock/token and
    /auth/mock/userinfo over HTTP.  With one worker those requests must be
    served while the callback waits, so a worker that blocked on its
    outbound call would never finish the login."""
    inst = start_mock(cofferd, engine, {"server": {"workers": 1}})
    s, _ = login(inst, "solo", "Solo")
    assert me(inst, s).json()["display_name"] == "Solo"


def test_configured_provider_unreachable_is_503(cofferd, tmp_path):
    """A real provider from [oauth.NAME]: the login redirects to its
    authorize URL; a token URL nobody answers gives 503, not a hang."""
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    dead = "http://127.0.0.1:9"        # discard port: nothing listens
    inst = cofferd("sqlite", {"oauth.ext": {
        "client_id": "cid", "client_secret_file": str(secret),
        "authorize_url": "https://idp.example/authorize?x=1",
        "token_url": dead + "/token", "userinfo_url": dead + "/userinfo",
        "scope": "openid"}})
    names = [p["name"] for p in
             requests.get(inst.url + "/auth/providers", timeout=TIMEOUT).json()["providers"]]
    assert names == ["ext"]
    s = requests.Session()
    r = s.get(inst.url + "/auth/login/ext", allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    loc = urlparse(r.headers["Location"])
    assert (loc.scheme, loc.netloc, loc.path) == ("https", "idp.example", "/authorize")
    q = {k: v[0] for k, v in parse_qs(loc.query).items()}
    assert q["x"] == "1" and q["client_id"] == "cid" and q["scope"] == "openid"
    assert q["redirect_uri"] == inst.url + "/auth/callback/ext"
    r = s.get(inst.url + "/auth/callback/ext",
              params={"code": "c", "state": q["state"]}, timeout=TIMEOUT)
    assert_error(r, 503, "unavailable")
    # The state was used up.
    r = requests.get(inst.url + "/auth/callback/ext",
                     params={"code": "c", "state": q["state"]}, timeout=TIMEOUT)
    assert_error(r, 400, "bad_request")
