"""The web pages (docs/API.md "Web pages"): every page path answers the HTML shell with
the security headers, /static/ serves the embedded assets with ETags, and
the demo works end to end: logging in as alice through the mock provider
shows "Demo Clan" and its vault.

The end-to-end check runs twice: through the JSON API the pages call (the
same requests, in the same order), and in a real headless Chromium when
one is installed (Debian's `chromium`; skipped otherwise), on both
engines.  Chromium is driven over --remote-debugging-pipe by the browser
suite's client (tests/browser/cdp.py), so the test needs no WebSocket
client and no fixed waits: it polls the page's state with a deadline.
The pages themselves are tested in depth by tests/browser.
"""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests

import client
from helpers import wait_until

# The browser suite's DevTools client (Chromium over --remote-debugging-pipe).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
import cdp  # noqa: E402

PAGES = ["/", "/login", "/app", "/app/groups/1", "/app/groups/1/activity",
         "/app/groups/1/settings", "/app/account", "/app/billing", "/join/ABCD1234"]

ASSETS = {
    "app.html": "text/html; charset=utf-8",
    "404.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "vault.js": "text/javascript; charset=utf-8",
    "members.js": "text/javascript; charset=utf-8",
    "billing.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

BROWSER_TIMEOUT = 20    # seconds for the whole browser check

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def check_security_headers(r):
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (name, r.headers)
    # Exactly the documented policy: scripts and styles from our origin
    # only, so no inline script can run even if markup slipped in.
    assert r.headers.get("Content-Security-Policy") == CSP, r.headers


# ---- pages and assets (no database involved, but served per engine) ----

def test_pages_answer_the_html_shell(server):
    for path in PAGES:
        r = server.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["Content-Type"] == "text/html; charset=utf-8", path
        check_security_headers(r)
        assert r.headers["Cache-Control"] == "no-cache"
        assert '<script src="/static/app.js" defer></script>' in r.text
        assert "<main id=\"main\"" in r.text
    # Trailing slash, unknown page and other methods stay JSON errors
    # for API clients (no Accept: text/html).
    r = server.get("/app/nothing")
    client.assert_error(r, 404, "not_found")
    r = server.post("/app")
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    # Pages are on the main listener only.
    assert server.get("/app", admin=True).status_code == 404


BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_unknown_path_is_an_html_404_for_browsers(server):
    for path in ("/nothing", "/app/nothing", "/app/groups/1/nothing", "/join"):
        r = server.get(path, headers=BROWSER_ACCEPT)
        assert r.status_code == 404, path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8", path
        check_security_headers(r)
        assert "<h1>Page not found</h1>" in r.text and "<script" not in r.text
        assert r.headers["Cache-Control"] == "no-cache"
    # HEAD too, with no body.
    r = requests.head(server.url + "/nothing", headers=BROWSER_ACCEPT, timeout=5)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    # The API's own paths stay JSON, whatever the client accepts.
    for path in ("/api/v1/nothing", "/static/nothing.js", "/auth/nothing",
                 "/internal/nothing", "/billing/nothing"):
        r = server.get(path, headers=BROWSER_ACCEPT)
        client.assert_error(r, 404, "not_found", path)
    # Other methods, and the admin listener, keep their JSON answers.
    r = server.post("/nothing", headers=BROWSER_ACCEPT)
    client.assert_error(r, 404, "not_found")
    r = server.get("/nothing", admin=True, headers=BROWSER_ACCEPT)
    client.assert_error(r, 404, "not_found")


def test_html_has_no_inline_script_or_style(server):
    html = server.get("/").text
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert "style=" not in html
    # Every asset the shell refers to is served.
    for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert server.get(ref).status_code == 200, ref
    # The scripts never turn text into markup.
    for name in ASSETS:
        if name.endswith(".js"):
            js = server.get("/static/" + name).text
            assert not re.search(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|"
                                 r"document\.write|\beval\(|new Function", js), name


def test_static_assets(server):
    for name, ctype in ASSETS.items():
        r = server.get("/static/" + name)
        assert r.status_code == 200, name
        assert r.headers["Content-Type"] == ctype, name
        assert r.headers["Cache-Control"] == "public, max-age=3600"
        check_security_headers(r)
        etag = r.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{16}"', etag), etag
        assert len(r.content) == int(r.headers["Content-Length"]) > 0
        # The embedded bytes are the source file's.
        src = os.path.join(os.environ["COFFER_SRCDIR"], "worker", "static", name)
        with open(src, "rb") as f:
            assert r.content == f.read(), name

        for inm in (etag, "W/" + etag, f'"nope", {etag}', "*"):
            r2 = server.get("/static/" + name, headers={"If-None-Match": inm})
            assert r2.status_code == 304, (name, inm)
            assert r2.content == b""
            assert r2.headers["ETag"] == etag
        r3 = server.get("/static/" + name, headers={"If-None-Match": '"0000000000000000"'})
        assert r3.status_code == 200 and r3.content == r.content


def test_page_etag_revalidates(server):
    r = server.get("/app")
    r2 = server.get("/app/account", headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 304
    assert r2.headers["Cache-Control"] == "no-cache"


def test_unknown_static_is_404_json(server):
    for path in ("/static/nope.js", "/static/", "/static/%2e%2e%2fapp.html",
                 "/static/app.js/x", "/static/APP.JS"):
        r = server.get(path)
        assert r.headers["Content-Type"] == "application/json", path
        client.assert_error(r, 404, "not_found", path)


def test_embed_script_refuses_unknown_extensions(tmp_path):
    script = os.path.join(os.environ["COFFER_SRCDIR"], "build-aux", "embed-static.sh")
    src = tmp_path / "static"
    src.mkdir()
    (src / "a.js").write_text("x")
    (src / "empty.txt").write_text("")
    (src / "a.js~").write_text("backup, skipped")
    out = tmp_path / "out.c"
    ok = subprocess.run(["sh", script, str(out), str(src)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    text = out.read_text()
    assert '{"a.js", "text/javascript; charset=utf-8", static_data_0, 1}' in text
    assert '{"empty.txt", "text/plain; charset=utf-8", static_data_1, 0}' in text
    assert "a.js~" not in text
    (src / "b.exe").write_text("x")
    bad = subprocess.run(["sh", script, str(tmp_path / "out2.c"), str(src)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown extension" in bad.stderr
    assert not (tmp_path / "out2.c").exists()


# ---- the demo, end to end ----

@pytest.fixture
def demo(cofferd, engine):
    inst = client.start_mock(cofferd, engine, {"dev": {"seed_demo": "on"}})
    inst.wait_log(r"demo: seeded 3 users", timeout=30)
    return inst


def login(inst, who="alice", name="Alice", next_path="/app"):
    """A requests session logged in through the mock provider, like the
    login page's form (it sends login_hint, name and next); here the page
    it lands on is part of what is checked."""
    s, r = client.login(inst, who, name, next_path)
    assert r.url == inst.url + next_path
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    return s


def test_demo_through_the_api_the_pages_use(demo):
    s = login(demo)
    me = s.get(demo.url + "/api/v1/me", timeout=5).json()
    assert me["login"] == "alice" and me["csrf_token"]
    groups = s.get(demo.url + "/api/v1/groups", timeout=5).json()["groups"]
    clan = next(g for g in groups if g["name"] == "Demo Clan")
    g = s.get(f"{demo.url}/api/v1/groups/{clan['id']}", timeout=5).json()
    assert g["role"] == "owner" and g["join_code"]
    # The vault page's first request and its "load more".
    v = s.get(f"{demo.url}/api/v1/groups/{clan['id']}/vault", timeout=5,
              params={"limit": 100}).json()
    assert len(v["items"]) == 100 and v["item_count"] > 100 and v["next_cursor"]
    assert v["total_value"] > 0
    more = s.get(f"{demo.url}/api/v1/groups/{clan['id']}/vault", timeout=5,
                 params={"limit": 100, "cursor": v["next_cursor"]}).json()
    assert more["items"] and more["items"][0]["id"] not in {i["id"] for i in v["items"]}
    # Search, container filter and sort, as the page sends them.
    found = s.get(f"{demo.url}/api/v1/groups/{clan['id']}/vault", timeout=5,
                  params={"q": "coins", "container": "bank", "sort": "name",
                          "order": "asc", "limit": 100}).json()
    assert any(i["id"] == 995 for i in found["items"])
    roster = s.get(f"{demo.url}/api/v1/groups/{clan['id']}/roster", timeout=5).json()
    assert {m["display_name"] for m in roster["members"]} >= {"Alice", "Bob", "Carol"}
    # Logged out, a page still answers (the script sends the browser to
    # /login when /api/v1/me says 401).
    anon = requests.get(demo.url + "/api/v1/me", timeout=5)
    assert anon.status_code == 401


# What the vault page shows once drawn: body[data-ready] is set by app.js
# when the page is complete.
VAULT_STATE = """(() => {
  if (document.body.dataset.ready !== 'true') return null;
  const rows = document.querySelectorAll('#vault tbody tr');
  return {path: location.pathname, title: document.title, rows: rows.length,
          first: rows.length ? rows[0].cells[0].textContent : null,
          total: (document.getElementById('total-value') || {}).textContent,
          members: document.querySelectorAll('#roster li.member').length,
          error: (document.querySelector('.notice.error') || {}).textContent || null};
})()"""


class Chromium:
    """open / evaluate / close over the browser suite's client, for the
    tests that drive one page (test_events.py's live vault page)."""

    def __init__(self, binary, profile=None):
        self.browser = cdp.Browser(binary)
        self.pages = {}

    def open(self, url):
        page = self.browser.new_page(1400)
        page.goto(url, ready=False)
        self.pages[page.session] = page
        return page.session

    def evaluate(self, session, expression):
        return settled(self.pages[session], expression)

    def close(self):
        self.browser.close()


def settled(page, expression):
    """expression's value, or None while the page is still loading (no
    document.body yet throws)."""
    try:
        return page.eval(expression)
    except cdp.CDPError:
        return None


def test_demo_in_a_browser(demo):
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    s = login(demo)
    clan = next(g for g in s.get(demo.url + "/api/v1/groups", timeout=5).json()["groups"]
                if g["name"] == "Demo Clan")
    started = time.monotonic()
    browser = cdp.Browser(binary)
    try:
        # The login page's form goes to this URL; the mock approves at
        # once and the callback sends the browser on to next.
        url = (f"{demo.url}/auth/login/mock?login_hint=alice&name=Alice"
               f"&next=/app/groups/{clan['id']}")
        page = browser.new_page(1400)
        page.goto(url, ready=False)
        state = wait_until(lambda: settled(page, VAULT_STATE),
                           BROWSER_TIMEOUT, "the vault page to be drawn", interval=0.05)
        assert state["error"] is None, state
        assert state["path"] == f"/app/groups/{clan['id']}"
        assert state["title"] == "Demo Clan · coffer"
        assert state["rows"] == 100, state
        assert state["total"].endswith(" gp") and state["members"] == 3, state

        # Searching narrows the table (the request the search box sends).
        page.eval("""(() => { const q = document.getElementById('vault-q');
            q.value = 'coins'; q.dispatchEvent(new Event('input')); })()""")
        wait_until(lambda: settled(page, """(() => {
            const rows = [...document.querySelectorAll('#vault tbody tr')];
            return location.search === '?q=coins' && rows.length > 0 &&
                rows.every(r => /coins/i.test(r.cells[0].textContent)); })()"""),
                   BROWSER_TIMEOUT, "the search to narrow the vault", interval=0.05)
    finally:
        browser.close()
    assert time.monotonic() - started < BROWSER_TIMEOUT
