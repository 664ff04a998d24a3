"""The login flow's hardening, on a real cofferd, on both engines.

* Login CSRF: /auth/login sets the coffer_login cookie and the callback
  must come from the browser holding it.  A callback opened in another
  browser, or without the cookie, is 400 and spends the state, so nobody
  can use it afterwards.
* Server-to-server URLs come from the config only: a forged Host header on
  the callback does not make cofferd contact that host.
* Outside input is taken whole or refused, never cut: long access tokens,
  long client secrets, long subjects and display names.

Besides the mock provider, a small provider of the test's own (Provider,
an HTTP server on a free port) stands in for a real one configured as
[oauth.ext]; it records every request it gets, and serves as the
"attacker's host" that must never be contacted.
"""
import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import Launcher

TIMEOUT = 10
STATE_TTL = 600                 # seconds a login in progress lives
NAME_MAX = 64                   # the [limits] max_name_length default
LOGIN_COOKIE = "coffer_login"


class Provider(ThreadingHTTPServer):
    """An OAuth provider on 127.0.0.1:<free port> that records every
    request: POST /token answers access_token, GET /userinfo answers
    userinfo, anything else 500."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _ProviderHandler)
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.reset()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def reset(self, access_token="at-short", userinfo=None):
        with self.lock:
            self.seen = []
            self.access_token = access_token
            self.userinfo = userinfo or {"sub": "ext-user", "name": "Ext User"}

    def requests_seen(self):
        with self.lock:
            return list(self.seen)

    def close(self):
        self.shutdown()
        self.server_close()


class _ProviderHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        srv = self.server
        path = urlparse(self.path).path
        with srv.lock:
            srv.seen.append({"method": self.command, "path": path,
                             "headers": dict(self.headers), "body": body})
            if self.command == "POST" and path == "/token":
                status, doc = 200, {"access_token": srv.access_token,
                                    "token_type": "bearer"}
            elif self.command == "GET" and path == "/userinfo":
                status, doc = 200, srv.userinfo
            else:
                status, doc = 500, {"error": "not a provider endpoint"}
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def provider():
    p = Provider()
    yield p
    p.close()


@pytest.fixture(scope="module")
def inst(request, engine, tmp_path_factory, provider):
    """One cofferd per engine with the mock provider on and [oauth.ext]
    pointing at provider; inst.secret is ext's client_secret_file."""
    secret = tmp_path_factory.mktemp("secret") / "ext.secret"
    secret.write_text("s3cret\n")
    launcher = Launcher(tmp_path_factory)
    request.addfinalizer(launcher.close)
    c = launcher.start(engine, {
        "auth": {"mock_provider": "on"},
        "oauth.ext": {"client_id": "cid", "client_secret_file": str(secret),
                      "authorize_url": provider.url + "/authorize",
                      "token_url": provider.url + "/token",
                      "userinfo_url": provider.url + "/userinfo",
                      "scope": "openid"}})
    c.secret = secret
    return c


@pytest.fixture
def ext(inst, provider):
    """provider, reset, with ext's secret file back to its usual content."""
    provider.reset()
    inst.secret.write_text("s3cret\n")
    yield provider
    provider.reset()
    inst.secret.write_text("s3cret\n")


# ---- helpers ----

def set_cookies(r):
    """The Set-Cookie lines of r, by cookie name."""
    return {c.split("=", 1)[0]: c for c in r.raw.headers.getlist("Set-Cookie")}


def attrs(cookie):
    return [a.strip() for a in cookie.split(";")]


def start_login(inst, s, who="alice"):
    """Start a mock login in browser s and let the mock approve it; the
    callback URL, not yet opened."""
    r = s.get(inst.url + "/auth/login/mock", params={"login_hint": who},
              allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    r = s.get(r.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def logged_in_as(inst, s):
    """The login s's session belongs to, or None."""
    r = s.get(inst.url + "/api/v1/me", timeout=TIMEOUT)
    return r.json()["login"] if r.status_code == 200 else None


def assert_error(r, status, code="bad_request"):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["error"]["code"] == code, r.text


def ext_login(inst, s):
    """Run a login through [oauth.ext] in browser s up to its callback;
    (the callback's response, the authorize query)."""
    r = s.get(inst.url + "/auth/login/ext", allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    q = {k: v[0] for k, v in parse_qs(urlparse(r.headers["Location"]).query).items()}
    r = s.get(inst.url + "/auth/callback/ext", params={"code": "c0de", "state": q["state"]},
              allow_redirects=False, timeout=TIMEOUT)
    return r, q


def token_form(provider):
    posts = [x for x in provider.requests_seen() if x["path"] == "/token"]
    assert len(posts) == 1, provider.requests_seen()
    return {k: v[0] for k, v in parse_qs(posts[0]["body"]).items()}


# ---- the login cookie ----

def test_login_sets_a_short_lived_http_only_cookie(inst):
    s = requests.Session()
    r = s.get(inst.url + "/auth/login/mock", params={"login_hint": "cookie1"},
              allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    c = set_cookies(r)[LOGIN_COOKIE]
    a = attrs(c)
    assert len(a[0]) == len(LOGIN_COOKIE) + 1 + 43, c
    for want in ("Path=/auth/", f"Max-Age={STATE_TTL}", "HttpOnly", "SameSite=Lax"):
        assert want in a, c
    assert "Secure" not in a
    # The callback finishes the login and expires the cookie.
    r = s.get(s.get(r.headers["Location"], allow_redirects=False,
                    timeout=TIMEOUT).headers["Location"],
              allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    cleared = attrs(set_cookies(r)[LOGIN_COOKIE])
    assert cleared[0] == LOGIN_COOKIE + "=" and "Max-Age=0" in cleared
    assert "Path=/auth/" in cleared
    assert logged_in_as(inst, s) == "cookie1"


def test_login_cookie_secure_when_configured(cofferd, engine):
    c = cofferd(engine, {"auth": {"mock_provider": "on", "cookie_secure": "on"}})
    r = requests.get(c.url + "/auth/login/mock", params={"login_hint": "x"},
                     allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    assert "Secure" in attrs(set_cookies(r)[LOGIN_COOKIE])


def test_whole_chain_still_logs_in_like_curl_with_a_jar(inst):
    s = requests.Session()
    r = s.get(inst.url + "/auth/login/mock", params={"login_hint": "jar", "name": "Jar"},
              timeout=TIMEOUT)
    assert [h.status_code for h in r.history] == [302, 302, 302], r.text
    assert logged_in_as(inst, s) == "jar"
    assert s.cookies.get(LOGIN_COOKIE) is None


# ---- login CSRF ----

def test_callback_in_another_browser_is_400(inst):
    victim_of_csrf = requests.Session()
    # The attacker starts a login to their own account and keeps the URL.
    attacker = requests.Session()
    url = start_login(inst, attacker, "attacker")
    # The other browser has a login of its own in progress: another cookie.
    start_login(inst, victim_of_csrf, "someone")
    r = victim_of_csrf.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert_error(r, 400)
    assert "Max-Age=0" in attrs(set_cookies(r)[LOGIN_COOKIE])
    assert victim_of_csrf.cookies.get("coffer_session") is None
    assert logged_in_as(inst, victim_of_csrf) is None
    # The state is spent: not even the browser that started it can use it.
    assert_error(attacker.get(url, allow_redirects=False, timeout=TIMEOUT), 400)
    assert logged_in_as(inst, attacker) is None
    assert "callback from a browser that did not start that login" in inst.log()


def test_callback_without_the_login_cookie_is_400(inst):
    s = requests.Session()
    url = start_login(inst, s, "nocookie")
    assert_error(requests.get(url, allow_redirects=False, timeout=TIMEOUT), 400)
    # Spent, for the browser that started it too.
    assert_error(s.get(url, allow_redirects=False, timeout=TIMEOUT), 400)
    assert logged_in_as(inst, s) is None


@pytest.mark.parametrize("value", ["forged", "A" * 43, "x" * 500])
def test_callback_with_a_forged_login_cookie_is_400(inst, value):
    s = requests.Session()
    url = start_login(inst, s, "forged")
    r = requests.get(url, cookies={LOGIN_COOKIE: value}, allow_redirects=False,
                     timeout=TIMEOUT)
    assert_error(r, 400)
    assert "coffer_session" not in set_cookies(r)


# ---- server-to-server URLs ----

def test_forged_host_on_callback_contacts_no_other_host(inst, provider):
    provider.reset()
    s = requests.Session()
    url = start_login(inst, s, "hosty")
    r = s.get(url, headers={"Host": f"127.0.0.1:{provider.port}"}, allow_redirects=False,
              timeout=TIMEOUT)
    assert provider.requests_seen() == []
    # The exchange went to this server's own mock provider, with the
    # redirect_uri of the authorize step, so the login works.
    assert r.status_code == 302, r.text
    session = set_cookies(r)["coffer_session"].split(";")[0].split("=", 1)[1]
    me = requests.get(inst.url + "/api/v1/me", cookies={"coffer_session": session},
                      timeout=TIMEOUT)
    assert me.json()["login"] == "hosty"


def test_forged_host_on_login_does_not_reach_the_exchange(inst, provider):
    """A forged Host at /auth/login only shapes where that browser is sent;
    the exchange still goes to this server."""
    provider.reset()
    s = requests.Session()
    r = s.get(inst.url + "/auth/login/mock", params={"login_hint": "hosty2"},
              headers={"Host": f"127.0.0.1:{provider.port}"}, allow_redirects=False,
              timeout=TIMEOUT)
    assert r.status_code == 302
    assert r.headers["Location"].startswith(provider.url + "/auth/mock/authorize?")
    q = {k: v[0] for k, v in parse_qs(urlparse(r.headers["Location"]).query).items()}
    assert q["redirect_uri"] == provider.url + "/auth/callback/mock"
    # The mock, reached under that same Host, approves; the callback comes back.
    r = s.get(inst.url + "/auth/mock/authorize", params=q,
              headers={"Host": f"127.0.0.1:{provider.port}"}, allow_redirects=False,
              timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    cb = urlparse(r.headers["Location"])
    r = s.get(inst.url + cb.path + "?" + cb.query, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    assert provider.requests_seen() == []
    assert logged_in_as(inst, s) == "hosty2"


# ---- outside input whole or refused ----

def pkce():
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def test_mock_access_token_over_600_bytes_works(inst):
    verifier, challenge = pkce()
    r = requests.get(inst.url + "/auth/mock/authorize", params={
        "response_type": "code", "client_id": "coffer",
        "redirect_uri": inst.url + "/auth/callback/mock", "state": "s1",
        "code_challenge": challenge, "code_challenge_method": "S256",
        "login_hint": "longtok"}, allow_redirects=False, timeout=TIMEOUT)
    code = parse_qs(urlparse(r.headers["Location"]).query)["code"][0]
    r = requests.post(inst.url + "/auth/mock/token", data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": inst.url + "/auth/callback/mock", "client_id": "coffer",
        "code_verifier": verifier}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert len(token) > 600
    info = requests.get(inst.url + "/auth/mock/userinfo",
                        headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)
    assert info.json()["sub"] == "longtok"
    # And the whole login, which carries such a token, works.
    s = requests.Session()
    r = s.get(start_login(inst, s, "longtok2"), allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302, r.text
    assert logged_in_as(inst, s) == "longtok2"


def test_provider_token_and_secret_pass_whole(inst, ext):
    token = "eyJ" + secrets.token_urlsafe(1500)         # a JWT-sized token
    secret = secrets.token_urlsafe(700)                 # ~930 bytes
    ext.reset(access_token=token, userinfo={"sub": "ext-1", "name": "Ext One"})
    inst.secret.write_text(secret + "\n")
    s = requests.Session()
    r, q = ext_login(inst, s)
    assert r.status_code == 302, r.text
    assert logged_in_as(inst, s) == "ext-1"
    form = token_form(ext)
    assert form["client_secret"] == secret
    assert form["redirect_uri"] == q["redirect_uri"]
    assert form["client_id"] == "cid" and form["code"] == "c0de"
    info = [x for x in ext.requests_seen() if x["path"] == "/userinfo"]
    assert info[0]["headers"]["Authorization"] == "Bearer " + token


def test_secret_file_over_4k_is_refused_and_logged(inst, ext):
    inst.secret.write_text("s" * 5000)
    s = requests.Session()
    mark = inst.log_mark()
    r, _ = ext_login(inst, s)
    assert_error(r, 500, "internal")
    assert ext.requests_seen() == []
    inst.wait_log(r"client_secret_file \S+ is larger than 4096 bytes", since=mark)
    assert logged_in_as(inst, s) is None


def test_over_long_subject_is_refused(inst, ext):
    ext.reset(userinfo={"sub": "u" * 300, "name": "Long"})
    s = requests.Session()
    r, _ = ext_login(inst, s)
    assert_error(r, 503, "unavailable")
    assert "longer than 255 bytes" in r.json()["error"]["message"]
    assert logged_in_as(inst, s) is None


def test_long_display_name_is_cut_to_max_name_length(inst, ext):
    ext.reset(userinfo={"sub": "ext-longname", "name": "é" * 300})
    s = requests.Session()
    r, _ = ext_login(inst, s)
    assert r.status_code == 302, r.text
    me = s.get(inst.url + "/api/v1/me", timeout=TIMEOUT).json()
    assert me["login"] == "ext-longname"
    assert me["display_name"] == "é" * NAME_MAX


@pytest.mark.parametrize("error,shown", [
    ("access_denied", True), ("x" * 65, False), ("é", False), ('a"b', False)])
def test_provider_error_is_repeated_only_when_it_looks_like_one(inst, error, shown):
    r = requests.get(inst.url + "/auth/callback/ext", params={"error": error},
                     timeout=TIMEOUT)
    assert_error(r, 400)
    assert (error in r.json()["error"]["message"]) == shown
