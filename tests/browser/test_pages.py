"""
test_pages.py -- coffer's web pages end to end in headless Chromium.

Started by tests/browser/run (and so by `make check`).  One cofferd on
SQLite with the demo data and the mock providers; one browser, driven over
the DevTools protocol (cdp.py).  Each check is a function named check_*,
run in order, at 1,400 px and then at 400 px where it says so.  A check
fails on an assertion, on a console error or uncaught exception in the
page, or on any 5xx answer the page received.  Screenshots of every page
at both widths go to $COFFER_BROWSER_SHOTS (default
build/tests/browser/screenshots) for a person to look at.

The browser part runs on SQLite only: the pages see the same API on both
engines, and the integration suite covers the API on PostgreSQL.
"""
import os
import pathlib
import shutil
import sys
import tempfile
import time
import traceback

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import cdp  # noqa: E402
from conftest import Cofferd, free_ports  # noqa: E402
import client  # noqa: E402

WIDE, NARROW = 1400, 400
SHOTS = os.environ.get("COFFER_BROWSER_SHOTS") or os.path.abspath("tests/browser/screenshots")


class Suite:
    def __init__(self, inst, browser):
        self.inst = inst
        self.url = inst.url
        self.browser = browser
        self.page = browser.new_page(WIDE)
        self.gid = None

    def shot(self, name, full=True):
        self.page.screenshot(os.path.join(SHOTS, "%s-%d.png" % (name, self.page.width)), full)

    def at_both_widths(self, name, path, check=None):
        """Load path at each width: no horizontal overflow, a screenshot,
        and check(page) if given."""
        for width in (WIDE, NARROW):
            self.page.resize(width)
            self.page.goto(self.url + path)
            if check:
                check(self.page)
            over = self.page.overflow()
            assert over <= 0, "%s at %d px is %d px too wide" % (path, width, over)
            self.shot(name)
        self.page.resize(WIDE)


def check_landing_and_login(s):
    s.at_both_widths("landing", "/")
    s.at_both_widths("login", "/login")
    # The login form, as a person uses it: type a name, submit.
    s.page.goto(s.url + "/login?next=/app")
    s.page.type("#login-name", "alice")
    s.page.eval("document.getElementById('mock-login').requestSubmit()")
    s.page.wait("location.pathname === '/app' && document.body.dataset.ready === 'true'",
                timeout=15, what="the groups page after logging in")
    s.gid = s.page.eval("(() => { const a = [...document.querySelectorAll('#groups a')]"
                        ".find(a => a.textContent === 'Demo Clan'); "
                        "return a ? a.getAttribute('href').split('/').pop() : null; })()")
    assert s.gid, "Demo Clan is not listed"
    s.at_both_widths("groups", "/app")


VAULT_READY = "document.querySelectorAll('#vault tbody tr').length > 0"


def check_vault(s):
    def ready(p):
        p.wait(VAULT_READY, what="vault rows")
        total = p.text("#total-value")
        assert total.endswith(" gp") and total[0].isdigit(), total
        # Values read like the game's, the exact figure on hover.
        exact = p.eval("document.querySelector('#total-value .gp').title")
        assert exact.replace(",", "").replace(" gp", "").isdigit(), exact
        assert p.eval("document.querySelectorAll('#roster li.member').length") == 3
        # Group storage is shown first-class.
        assert p.eval("!document.getElementById('group-storage').hidden")
    s.at_both_widths("vault", "/app/groups/%s" % s.gid, ready)


def check_vault_search_and_sort(s):
    p = s.page
    p.goto(s.url + "/app/groups/%s" % s.gid)
    p.wait(VAULT_READY)
    p.type("#vault-q", "rune")
    p.wait("location.search === '?q=rune' && [...document.querySelectorAll('#vault tbody tr')]"
           ".every(r => /rune/i.test(r.cells[0].textContent))", what="the search")
    assert "filtered" in p.text("#stat-total"), "the totals do not say they are filtered"
    # Sort by unit price, ascending then descending: the column's order.
    for order in ("desc", "asc"):
        p.click("button.sort[data-sort=price]")
        p.wait("document.querySelector('th[aria-sort] button[data-sort=price]') && "
               "document.querySelector('button[data-sort=price]').parentNode"
               ".getAttribute('aria-sort') === '%s'" % ("descending" if order == "desc" else "ascending"))
        prices = p.eval("[...document.querySelectorAll('#vault tbody td.unit .gp')]"
                        ".map(e => Number(e.dataset.exact))")
        assert prices == sorted(prices, reverse=(order == "desc")), (order, prices[:10])
    s.shot("vault-search")
    p.click("#vault-clear")
    p.wait("location.search === '' || location.search.indexOf('q=') < 0")


def check_item_detail(s):
    p = s.page
    for width in (WIDE, NARROW):
        p.resize(width)
        p.goto(s.url + "/app/groups/%s" % s.gid)
        p.wait(VAULT_READY)
        p.click("#vault tbody tr button.itemlink")
        p.wait("document.querySelector('#item-holders tbody tr')", what="the item's holders")
        assert p.eval("document.getElementById('item-detail').open")
        assert p.eval("!!document.querySelector('#item-holders time')"), "no 'since' time"
        assert p.overflow() <= 0
        s.shot("item-detail", full=False)
        p.click("#item-close")
        p.wait("!document.getElementById('item-detail')")
    p.resize(WIDE)


def check_member_view(s):
    p = s.page

    def ready(pg):
        pg.wait("document.querySelectorAll('.member-card').length > 0", what="member cards")
        cards = pg.eval("[...document.querySelectorAll('.member-card')].map(c => c.dataset.character)")
        assert cards == ["Lynx Titan"], cards
        worn = pg.eval("document.querySelectorAll('.member-card .equip button.slot').length")
        assert worn >= 5, "worn equipment: %d slots" % worn
        assert pg.eval("document.querySelectorAll('.member-card .inventory .slot').length") == 28
    # Bob's characters only, as the member filter picks them.
    bob = p.eval("fetch('/api/v1/groups/%s/roster').then(r => r.json()).then(d => "
                 "d.members.find(m => m.display_name === 'Bob').user_id)" % s.gid)
    s.at_both_widths("member-view", "/app/groups/%s?member=%s&view=member" % (s.gid, bob), ready)
    # The table filtered by member shows only what Bob holds.
    p.goto(s.url + "/app/groups/%s?member=%s" % (s.gid, bob))
    p.wait(VAULT_READY)
    holders = p.eval("[...document.querySelectorAll('#vault tbody td.holders')]"
                     ".map(t => t.textContent)")
    assert holders and all(h.startswith("Lynx Titan") for h in holders), holders[:5]


def check_roster_skills(s):
    p = s.page
    p.goto(s.url + "/app/groups/%s" % s.gid)
    p.wait("document.querySelector('#roster .total-level')", what="total levels")
    assert p.eval("document.querySelectorAll('#roster .skills-box').length") == 4
    assert p.eval("document.querySelectorAll('#roster .levelup').length") > 0


def check_live_sync(s):
    """A sync made through the API shows on the open page, no reload."""
    p = s.page
    p.goto(s.url + "/app/groups/%s" % s.gid)
    p.wait(VAULT_READY)
    p.wait("(document.getElementById('live-status') || {}).textContent === '● Live'",
           timeout=10, what="the live stream")
    p.eval("window.__marker = 1")
    web, _ = client.login(s.inst, "bob")
    token = client.create_token(s.inst, web)["token"]
    # An item nobody in the demo holds, in an amount nobody would.
    r = requests.put(s.url + "/api/v1/sync/characters/Lynx%20Titan/containers/looting_bag",
                     json={"seq": 1000, "items": [{"id": 11832, "qty": 7}]},
                     headers={"Authorization": "Bearer " + token}, timeout=5)
    assert r.status_code == 200 and r.json()["applied"], r.text
    p.wait("[...document.querySelectorAll('#vault td.holders')].some(t => "
           "/looting bag/.test(t.textContent) || /looting bag/.test(t.title || '') || "
           "/looting bag/.test(t.firstChild && t.firstChild.title || ''))",
           timeout=10, what="the synced item on the open page")
    assert p.eval("window.__marker") == 1, "the page reloaded"
    hb = requests.post(s.url + "/api/v1/sync/heartbeat",
                       json={"character": "Lynx Titan", "world": 420, "activity": "Fishing"},
                       headers={"Authorization": "Bearer " + token}, timeout=5)
    assert hb.status_code == 204, hb.text
    p.wait("/World 420/.test(document.querySelector('#roster li[data-character=\"Lynx Titan\"]')"
           ".textContent)", timeout=10, what="presence in the roster")
    # A page opened afterwards has it from the roster answer: no heartbeat
    # is sent now, so no live event can bring it.
    p.goto(s.url + "/app/groups/%s" % s.gid)
    p.wait("/Online.*World 420.*Fishing/.test((document.querySelector("
           "'#roster li[data-character=\"Lynx Titan\"] .presence-slot') || {}).textContent)",
           timeout=5, what="presence from the roster after a reload")


def check_activity(s):
    def ready(p):
        p.wait("document.querySelectorAll('#activity li').length > 0", what="activity")
        assert p.eval("document.querySelectorAll('#activity li[data-kind=loot]').length") > 0
        p.type("#activity-kind", "level_up")
        p.wait("[...document.querySelectorAll('#activity li')].every(l => l.dataset.kind === 'level_up')")
        p.type("#activity-kind", "")
        assert "item #" not in p.text("#activity")
    s.at_both_widths("activity", "/app/groups/%s/activity" % s.gid, ready)


def check_settings_account_billing_join(s):
    s.at_both_widths("settings", "/app/groups/%s/settings" % s.gid,
                     lambda p: p.wait("document.querySelectorAll('#members tbody tr').length === 3"))
    s.at_both_widths("account", "/app/account",
                     lambda p: p.wait("document.querySelector('#tokens tbody tr')"))
    s.at_both_widths("billing", "/app/billing",
                     lambda p: p.wait("document.getElementById('plans')"))
    s.at_both_widths("join", "/join/DEMXCLAN2345",
                     lambda p: p.wait("document.getElementById('join')"))


def check_billing_upgrade(s):
    """The real billing flow with the mock provider: the plan table,
    Upgrade, the provider's checkout page, Pay, back at
    /app/billing?checkout=done, and premium once the provider's signed
    webhook has landed.  Nothing is answered for the server."""
    p = s.page
    hist = "/api/v1/groups/%s/vault/history" % s.gid
    assert p.eval("fetch(%r).then(r => r.status)" % hist) == 403, "history before premium"
    for width in (NARROW, WIDE):
        p.resize(width)
        p.goto(s.url + "/app/billing")
        p.wait("document.getElementById('plans')", what="the plan table")
        plans = p.text("#plans")
        assert "5.00 / month" in plans and "free" in plans, plans
        assert p.text("#plan-name") == "Free"
        assert p.overflow() <= 0
        s.shot("billing-plans")
    p.eval("[...document.querySelectorAll('#subscription button')]"
           ".find(b => /Upgrade/.test(b.textContent)).click()")
    p.wait("location.pathname.startsWith('/billing/mock/checkout/cs_') && "
           "document.readyState === 'complete' && document.querySelector('form button')",
           timeout=15, what="the mock provider's checkout page")
    assert "premium" in p.text("body")
    for width in (NARROW, WIDE):
        p.resize(width)
        s.shot("billing-checkout")
    p.click("form button")      # Pay: a plain form POST, then the 302 back
    p.wait("location.pathname === '/app/billing' && "
           "/Welcome to premium/.test((document.getElementById('billing-msg') || {})"
           ".textContent)", timeout=20, what="premium after the checkout")
    assert p.text("#plan-name") == "Premium"
    assert p.eval("location.search") == "", "?checkout=done is left in the address"
    sub = p.eval("fetch('/api/v1/billing/subscription').then(r => r.json())")
    assert sub["plan"] == "premium" and sub["status"] == "active", sub
    assert p.eval("fetch(%r).then(r => r.status)" % hist) == 200, "history after premium"
    s.shot("billing-premium")


def check_vault_history_and_export(s):
    """Alice is premium now: Demo Clan's vault shows its value chart from
    the real /vault/history, and export links whose CSV downloads."""
    p = s.page
    # Earlier days' totals, as a month of daily syncs would have left
    # them (the demo's own syncs are all today's).
    now = p.eval("fetch('/api/v1/groups/%s').then(r => r.json()).then(g => g.total_value)"
                 % s.gid)
    days = ",".join("(%s, date('now', '-%d days'), %d, %d)"
                    % (s.gid, d, now * (100 - d) // 100 + (d % 3) * now // 50, 1300 - d)
                    for d in range(1, 30))
    client.db_sql(s.inst, "INSERT OR IGNORE INTO vault_daily "
                          "(group_id, day, total_value, item_count) VALUES " + days)
    n = p.eval("fetch('/api/v1/groups/%s/vault/history?days=30')"
               ".then(r => r.json()).then(j => j.history.length)" % s.gid)
    assert n in (29, 30), n
    for width in (WIDE, NARROW):
        p.resize(width)
        p.goto(s.url + "/app/groups/%s" % s.gid)
        p.wait("document.querySelector('#history svg.chart polyline')", what="the chart")
        assert p.eval("document.querySelectorAll('#history svg circle').length") == n
        hrefs = p.eval("[...document.querySelectorAll('#history a[download]')]"
                       ".map(a => a.getAttribute('href'))")
        assert hrefs == ["/api/v1/groups/%s/vault/export" % s.gid,
                         "/api/v1/groups/%s/vault/export?format=json" % s.gid], hrefs
        assert p.overflow() <= 0
        p.eval("document.getElementById('history').scrollIntoView()")
        s.shot("vault-history", full=False)
    p.resize(WIDE)
    got = p.eval("(async () => { const a = document.querySelector('#history a[download]');"
                 " const r = await fetch(a.href); const t = await r.text();"
                 " return {status: r.status, type: r.headers.get('content-type'),"
                 " disp: r.headers.get('content-disposition'), lines: t.split('\\r\\n')}; })()")
    assert got["status"] == 200 and got["type"].startswith("text/csv"), got["type"]
    assert got["disp"].startswith("attachment"), got["disp"]
    lines = [line for line in got["lines"] if line]
    assert lines[0] == "id,name,qty,unit_price,value,holders", lines[:2]
    assert len(lines) > 10 and all(line.split(",")[0].isdigit() for line in lines[1:]), lines[:3]


def check_onboarding(s):
    """A new user's empty group walks them to a token, the URL, the invite."""
    p = s.page
    web, _ = client.login(s.inst, "dave", "Dave")
    r = web.post(s.url + "/api/v1/groups", json={"name": "Fresh start"},
                 headers=client.csrf(web), timeout=5)
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    p.send("Network.setCookie", {"name": "coffer_session", "value": web.cookies["coffer_session"],
                                 "url": s.url})
    p.send("Network.setCookie", {"name": "coffer_csrf", "value": web.cookies["coffer_csrf"],
                                 "url": s.url})

    def ready(pg):
        pg.wait("document.querySelector('.onboarding')", what="the onboarding card")
        assert pg.text("#server-url") == s.url
        assert "/join/" in pg.text(".onboarding")
    try:
        s.at_both_widths("onboarding", "/app/groups/%s" % gid, ready)
        p.click(".onboarding button")
        p.wait("/^cfr_/.test((document.querySelector('#onboard-token code') || {})"
               ".textContent || '')", what="the new token")
        s.shot("onboarding-token")
    finally:
        # Back to alice for the checks after this one.
        p.goto(s.url + "/auth/login/mock?login_hint=alice&name=Alice&next=/app")


def check_smallest_phones(s):
    """Every page also fits 360 px, the narrowest phones in use."""
    p = s.page
    p.resize(360)
    try:
        for path, ready in (("/", None), ("/app", "#groups"),
                            ("/app/groups/%s" % s.gid, "#vault tbody tr"),
                            ("/app/groups/%s?view=member" % s.gid, ".member-card"),
                            ("/app/groups/%s/activity" % s.gid, "#activity li"),
                            ("/app/groups/%s/settings" % s.gid, "#members tbody tr"),
                            ("/app/account", "#tokens"), ("/app/billing", "h1"),
                            ("/join/DEMXCLAN2345", "#join")):
            p.goto(s.url + path)
            if ready:
                p.wait("document.querySelector(%r)" % ready, what=ready + " at " + path)
            over = p.overflow()
            assert over <= 0, "%s at 360 px is %d px too wide" % (path, over)
    finally:
        p.resize(WIDE)


def check_not_found(s):
    p = s.page
    for width in (WIDE, NARROW):
        p.resize(width)
        p.goto(s.url + "/no/such/page", ready=False)
        p.wait("document.readyState === 'complete' && document.querySelector('h1')")
        assert p.text("h1") == "Page not found"
        assert p.overflow() <= 0
        s.shot("not-found")
    p.resize(WIDE)
    r = requests.get(s.url + "/no/such/page", headers={"Accept": "text/html"}, timeout=5)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")


def main():
    binary = cdp.find_chromium()
    if binary is None:
        print("browser: SKIPPED: chromium is not installed "
              "(build-aux/install-deps.sh --test installs it)")
        write_totals(0, 0)
        return 0
    os.makedirs(SHOTS, exist_ok=True)

    work = tempfile.mkdtemp(prefix="coffer-browser-")
    inst = Cofferd(pathlib.Path(work), "sqlite",
                   {"auth": {"mock_provider": "on"}, "billing": {"mock_provider": "on"},
                    "dev": {"seed_demo": "on"}}, free_ports(2))
    inst.start()
    passed = failed = 0
    browser = None
    started = time.monotonic()
    try:
        try:
            inst.wait_ready()
            inst.wait_log(r"demo: seeded 3 users", timeout=30)
            browser = cdp.Browser(binary)
            suite = Suite(inst, browser)
        except Exception:
            failed += 1
            print("FAIL  starting cofferd and chromium\n%s" % traceback.format_exc())
            suite = None
        checks = [(n, f) for n, f in globals().items() if n.startswith("check_") and suite]
        for name, fn in checks:
            t0 = time.monotonic()
            seen = len(suite.page.problems())
            try:
                fn(suite)
                problems = suite.page.problems()[seen:]
                assert not problems, "the page reported: %s" % problems
                passed += 1
                print("ok    %-40s %5.1f s" % (name, time.monotonic() - t0), flush=True)
            except Exception:
                failed += 1
                print("FAIL  %s\n%s" % (name, traceback.format_exc()), flush=True)
                try:
                    suite.shot("FAILED-" + name)
                except Exception:
                    pass
                if name == "check_landing_and_login":
                    break
    finally:
        if browser:
            browser.close()
        inst.stop()
        if failed:
            print(inst.log_tail(30))
        shutil.rmtree(work, ignore_errors=True)
    return report(passed, failed, started)


def report(passed, failed, started):
    print("browser: %d passed, %d failed in %.1f s; screenshots in %s"
          % (passed, failed, time.monotonic() - started, SHOTS))
    write_totals(passed, failed)
    return 1 if failed else 0


def write_totals(passed, failed):
    totals = os.environ.get("COFFER_TEST_TOTALS")
    if totals:
        with open(totals, "a") as f:
            f.write("browser %d %d\n" % (passed, failed))


if __name__ == "__main__":
    sys.exit(main())
