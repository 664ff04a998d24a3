"""Billing through HTTP on a real cofferd, on both engines: the plans, the
whole checkout with the mock provider (checkout -> its page -> Pay -> its
signed webhook over HTTP -> premium), the webhook's signature (bad, stale,
replayed, out of order), cancelling, what a downgrade keeps and switches
off, the member limit at 5 and 25 with racing joins, and who may call
each route.

The tests sign their own provider events with the secret file they gave
the server, the way a provider shares its signing secret.
"""
import json
import os
import subprocess
import threading
import time

import pytest
import requests

from billingkit import (billing_settings, cancel, event, now_ms, premium, send,
                        sign)
from client import TIMEOUT, assert_error, db_sql, start_mock
from conftest import Launcher, command
from groupkit import Player
from helpers import wait_until


@pytest.fixture(scope="module")
def srv(request, engine, tmp_path_factory):
    launcher = Launcher(tmp_path_factory)
    request.addfinalizer(launcher.close)
    tmp = tmp_path_factory.mktemp("billing")
    return start_mock(launcher.start, engine, billing_settings(tmp))


def subscription(p):
    r = p.get("/api/v1/billing/subscription")
    assert r.status_code == 200, r.text
    return r.json()


def user_plan(p):
    return p.get("/api/v1/me").json()["plan"]


def checkout(p):
    """The whole flow as a browser runs it; returns the final reply."""
    r = p.post("/api/v1/billing/checkout", {"plan": "premium"})
    assert r.status_code == 201, r.text
    url = r.json()["checkout_url"]
    assert url.startswith(p.inst.url + "/billing/mock/checkout/cs_"), url
    page = p.web.get(url, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert "premium" in page.text and "Pay" in page.text
    done = p.web.post(url + "/complete", timeout=TIMEOUT, allow_redirects=False)
    assert done.status_code == 302, done.text
    assert done.headers["Location"] == "/app/billing?checkout=done"
    return url


# ---- plans and the checkout flow ----

def test_plans_come_from_the_one_table(srv):
    r = requests.get(srv.url + "/api/v1/billing/plans", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    plans = {p["name"]: p for p in r.json()["plans"]}
    assert plans["free"]["members_per_group"] == 5
    assert plans["free"]["activity_days"] == 7
    assert plans["free"]["webhooks_per_group"] == 0
    assert plans["free"]["history_export"] is False
    assert plans["free"]["price"] == 0
    assert plans["premium"]["members_per_group"] == 25
    assert plans["premium"]["activity_days"] == 365
    assert plans["premium"]["webhooks_per_group"] == 10
    assert plans["premium"]["history_export"] is True
    assert plans["premium"]["price"] > 0


def test_whole_checkout_flow_makes_premium(srv):
    p = Player(srv, "buyer")
    assert subscription(p) == {"plan": "free", "status": "none",
                               "current_period_end": None}
    mark = srv.log_mark()
    url = checkout(p)
    # The provider's webhook came over HTTP before the redirect.
    srv.wait_log(r"billing: event evt_\S+ \(checkout\.completed, user %d\): applied"
                 % p.id, since=mark)
    sub = subscription(p)
    assert sub["plan"] == "premium" and sub["status"] == "active", sub
    assert sub["current_period_end"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert user_plan(p) == "premium"
    # Paying twice is refused; the page says it is done.
    again = p.web.post(url + "/complete", timeout=TIMEOUT, allow_redirects=False)
    assert_error(again, 409, "conflict")
    assert "completed" in p.web.get(url, timeout=TIMEOUT).text
    # A second checkout for the same plan is refused.
    assert_error(p.post("/api/v1/billing/checkout", {"plan": "premium"}), 409, "conflict")


def test_checkout_alone_changes_nothing(srv):
    p = Player(srv, "browser")
    r = p.post("/api/v1/billing/checkout", {"plan": "premium"})
    assert r.status_code == 201, r.text
    assert p.web.get(r.json()["checkout_url"], timeout=TIMEOUT).status_code == 200
    assert subscription(p)["status"] == "none"
    assert user_plan(p) == "free"


def test_checkout_bad_input(srv):
    p = Player(srv, "picky")
    assert_error(p.post("/api/v1/billing/checkout", {"plan": "free"}), 422, "invalid")
    assert_error(p.post("/api/v1/billing/checkout", {"plan": 7}), 422, "invalid")
    assert_error(p.post("/api/v1/billing/checkout", {"plan": "premium", "x": 1}),
                 422, "invalid")
    assert_error(p.raw("POST", "/api/v1/billing/checkout", "{"), 400, "bad_request")
    r = requests.get(srv.url + "/billing/mock/checkout/cs_nope", timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    r = requests.post(srv.url + "/billing/mock/checkout/cs_nope/complete", timeout=TIMEOUT)
    assert_error(r, 409, "conflict")


def test_cancel_goes_through_the_provider(srv):
    p = Player(srv, "quitter")
    assert_error(p.post("/api/v1/billing/cancel"), 409, "conflict")
    checkout(p)
    assert subscription(p)["plan"] == "premium"
    r = p.post("/api/v1/billing/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["plan"] == "free" and r.json()["status"] == "canceled", r.text
    assert user_plan(p) == "free"
    assert_error(p.post("/api/v1/billing/cancel"), 409, "conflict")


# ---- the webhook's signature and ordering ----

def test_bad_and_stale_signatures_are_refused(srv):
    p = Player(srv, "forger")
    ev = event("subscription.renewed", p.id, now_ms())
    assert_error(send(srv, ev, secret="wrong"), 400, "bad_request")
    assert_error(send(srv, ev, signature=""), 400, "bad_request")
    assert_error(send(srv, ev, signature="t=abc,v1=00"), 400, "bad_request")
    assert_error(send(srv, ev, t=int(time.time()) - 301), 400, "bad_request")
    assert_error(send(srv, ev, t=int(time.time()) + 301), 400, "bad_request")
    # A valid signature over another body.
    body = json.dumps(ev).encode()
    tampered = dict(ev, data=dict(ev["data"], user_id=p.id + 1))
    assert_error(send(srv, tampered, signature=sign(body)), 400, "bad_request")
    assert user_plan(p) == "free"
    # Within the tolerance it is accepted.
    r = send(srv, ev, t=int(time.time()) - 250)
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
    assert user_plan(p) == "premium"


def test_an_event_takes_effect_once(srv):
    p = Player(srv, "replayer")
    t = now_ms()
    up = event("subscription.renewed", p.id, t)
    down = event("subscription.canceled", p.id, t + 10)
    assert send(srv, up).json()["outcome"] == "applied"
    assert send(srv, down).json()["outcome"] == "applied"
    assert user_plan(p) == "free"
    # Replaying the upgrade, however often, changes nothing.
    for _ in range(3):
        r = send(srv, up)
        assert r.status_code == 200 and r.json()["outcome"] == "duplicate", r.text
    assert user_plan(p) == "free"
    assert db_sql(srv, "SELECT count(*) FROM billing_events WHERE event_id = '%s'"
                  % up["id"]) == "1"


def test_an_older_event_never_undoes_a_newer_one(srv):
    p = Player(srv, "shuffled")
    t = now_ms()
    renewed = event("subscription.renewed", p.id, t,
                    current_period_end=int(time.time()) + 86400 * 30)
    past_due = event("subscription.past_due", p.id, t + 1000)
    canceled = event("subscription.canceled", p.id, t + 2000)
    # Delivered newest first.
    assert send(srv, canceled).json()["outcome"] == "applied"
    assert send(srv, renewed).json()["outcome"] == "stale"
    assert send(srv, past_due).json()["outcome"] == "stale"
    assert subscription(p)["status"] == "canceled"
    assert user_plan(p) == "free"
    # A later one still applies.
    again = event("subscription.renewed", p.id, t + 3000)
    assert send(srv, again).json()["outcome"] == "applied"
    assert subscription(p)["status"] == "active"
    past = event("subscription.past_due", p.id, t + 4000)
    assert send(srv, past).json()["outcome"] == "applied"
    sub = subscription(p)
    assert sub["status"] == "past_due" and sub["plan"] == "premium", sub


def test_webhook_bad_bodies(srv):
    body = b"not json"
    r = requests.post(srv.url + "/billing/webhook", data=body,
                      headers={"Coffer-Signature": sign(body)}, timeout=TIMEOUT)
    assert_error(r, 400, "bad_request")
    r = send(srv, {"id": "evt_x", "type": "subscription.renewed", "created": -1,
                   "data": {"user_id": 1}})
    assert_error(r, 400, "bad_request")
    r = send(srv, {"id": "evt_y", "type": "subscription.renewed", "created": 1,
                   "data": {"user_id": "1"}})
    assert_error(r, 400, "bad_request")
    r = send(srv, {"id": "evt_z", "type": "invoice.created", "created": 1, "data": {}})
    assert r.status_code == 200 and r.json()["outcome"] == "ignored", r.text
    r = send(srv, event("subscription.renewed", 10 ** 12, now_ms()))
    assert r.status_code == 200 and r.json()["outcome"] == "unknown_user", r.text


# ---- limits and the downgrade ----

def race_joins(srv, code, n, tag):
    players = [Player(srv, f"{tag}{i}") for i in range(n)]
    barrier = threading.Barrier(n)
    results = [None] * n

    def go(i):
        barrier.wait()
        results[i] = players[i].join(code)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("plan,limit", [("free", 5), ("premium", 25)])
def test_racing_joins_fill_exactly_to_the_limit(srv, plan, limit):
    owner = Player(srv, f"racer_owner_{plan}")
    if plan == "premium":
        premium(srv, owner)
    g = owner.create_group(f"Race {plan}")
    results = race_joins(srv, g["join_code"], limit + 3, f"r{plan}_")
    ok = [r for r in results if r.status_code == 200]
    full = [r for r in results if r.status_code == 422]
    assert len(ok) == limit - 1, [r.text for r in results]
    assert len(full) == 4, [r.text for r in results]
    for r in full:
        assert_error(r, 422, "invalid")
        assert str(limit) in r.json()["error"]["message"], r.text
    roster = owner.get(f"/api/v1/groups/{g['id']}/roster").json()["members"]
    assert len(roster) == limit


def test_downgrade_keeps_members_refuses_joins_disables_webhooks(srv):
    owner = Player(srv, "shrinking")
    premium(srv, owner)
    g = owner.create_group("Big")
    for i in range(6):
        assert Player(srv, f"big{i}").join(g["join_code"]).status_code == 200
    hooks = []
    for i in range(3):
        r = owner.post(f"/api/v1/groups/{g['id']}/webhooks",
                       {"url": f"http://127.0.0.1:9/{i}"})
        assert r.status_code == 201, r.text
        hooks.append(r.json()["id"])
    cancel(srv, owner)
    # Seven members stay; nobody else may join.
    roster = owner.get(f"/api/v1/groups/{g['id']}/roster").json()["members"]
    assert len(roster) == 7
    r = Player(srv, "late").join(g["join_code"])
    assert_error(r, 422, "invalid")
    assert "5" in r.json()["error"]["message"]
    # The webhooks are still there, switched off; no new one.
    listed = owner.get(f"/api/v1/groups/{g['id']}/webhooks").json()["webhooks"]
    assert [w["id"] for w in listed] == hooks
    assert all(w["enabled"] is False for w in listed), listed
    r = owner.post(f"/api/v1/groups/{g['id']}/webhooks", {"url": "http://127.0.0.1:9/x"})
    assert_error(r, 422, "invalid")
    # Nor switching one back on while free; other changes are fine.
    r = owner.patch(f"/api/v1/groups/{g['id']}/webhooks/{hooks[0]}", {"enabled": True})
    assert_error(r, 422, "invalid")
    assert "0 enabled webhooks" in r.json()["error"]["message"], r.text
    r = owner.patch(f"/api/v1/groups/{g['id']}/webhooks/{hooks[0]}", {"format": "discord"})
    assert r.status_code == 200 and r.json()["enabled"] is False, r.text
    # Premium again: they may be switched back on.
    premium(srv, owner)
    r = owner.patch(f"/api/v1/groups/{g['id']}/webhooks/{hooks[0]}", {"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True, r.text


# ---- who may call what ----

def test_authorization_of_billing_routes(srv):
    p = Player(srv, "authz")
    anon = requests.Session()
    for method, path in [("GET", "/api/v1/billing/subscription"),
                         ("POST", "/api/v1/billing/checkout"),
                         ("POST", "/api/v1/billing/cancel")]:
        r = anon.request(method, srv.url + path, json={"plan": "premium"},
                         timeout=TIMEOUT)
        assert_error(r, 401, "unauthorized", path)
        # A plugin token is not a web session.
        r = requests.request(method, srv.url + path, json={"plan": "premium"},
                             headers=p.bearer, timeout=TIMEOUT)
        assert_error(r, 403, "forbidden", path)
        if method == "POST":
            # Without the CSRF header.
            r = p.web.post(srv.url + path, json={"plan": "premium"}, timeout=TIMEOUT)
            assert_error(r, 403, "forbidden", path)
    # Everyone sees only their own subscription.
    other = Player(srv, "authz_other")
    premium(srv, other)
    assert subscription(p)["plan"] == "free"
    assert subscription(other)["plan"] == "premium"


def test_billing_off_answers_documented_errors(cofferd, tmp_path):
    inst = start_mock(cofferd, "sqlite")
    p = Player(inst, "nobill")
    assert_error(p.post("/api/v1/billing/checkout", {"plan": "premium"}), 503,
                 "feature_disabled")
    r = requests.post(inst.url + "/billing/webhook", data=b"{}", timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    r = requests.get(inst.url + "/billing/mock/checkout/cs_x", timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    assert subscription(p)["status"] == "none"


def test_development_mock_runs_without_a_secret_file(cofferd):
    inst = start_mock(cofferd, "sqlite", {"billing": {"mock_provider": "on"}})
    p = Player(inst, "devbuyer")
    checkout(p)
    assert subscription(p)["plan"] == "premium"
    # Nobody outside knows the secret.
    assert_error(send(inst, event("subscription.canceled", p.id, now_ms())), 400,
                 "bad_request")
    assert user_plan(p) == "premium"


def test_secret_file_must_not_be_world_readable(tmp_path):
    settings = billing_settings(tmp_path)
    os.chmod(settings["billing"]["webhook_secret_file"], 0o644)
    conf = tmp_path / "c.conf"
    conf.write_text("[billing]\nmock_provider = on\nwebhook_secret_file = %s\n"
                    % settings["billing"]["webhook_secret_file"])
    out = subprocess.run(command("-t", "-c", str(conf)), capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1
    assert f"{conf}:3:" in out.stderr and "world-readable" in out.stderr, out.stderr
    conf.write_text("[billing]\nmock_provider = on\n")
    out = subprocess.run(command("-t", "-c", str(conf)), capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1
    assert f"{conf}:2:" in out.stderr and "webhook_secret_file" in out.stderr, out.stderr


# ---- activity retention ----

def ago(days, minutes=0):
    t = time.time() - days * 86400 - minutes * 60
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def test_retention_purges_exactly_what_the_plan_no_longer_keeps(srv):
    free = Player(srv, "keeper_free")
    rich = Player(srv, "keeper_premium")
    premium(srv, rich)
    free.link("Freekeep")
    rich.link("Richkeep")
    fg = free.create_group("Week", ["Freekeep"])
    pg = rich.create_group("Year", ["Richkeep"])
    # Rows of a known age on each side of each plan's limit, by kind.
    ages = {"fg": (fg, [("f_old", ago(7, 5)), ("f_kept", ago(7, -5)), ("f_new", ago(1))]),
            "pg": (pg, [("p_old", ago(365, 5)), ("p_kept", ago(365, -5)),
                        ("p_week", ago(8))])}
    for g, rows in ages.values():
        for kind, at in rows:
            db_sql(srv, f"INSERT INTO activity (group_id, kind, created_at) "
                        f"VALUES ({g['id']}, '{kind}', '{at}')")

    def kinds(g):
        return set(db_sql(srv, f"SELECT kind FROM activity WHERE group_id = {g['id']} "
                               f"AND kind LIKE '%\\_%' ESCAPE '\\'").split())

    # A write that records activity makes the delivery loop look, and
    # purge; the purge runs at most every 2 s per worker, so keep writing.
    seq = [1]

    def purged():
        seq[0] += 1
        free.sync("Freekeep", "bank", [(4151, seq[0])], seq=seq[0])
        rich.sync("Richkeep", "bank", [(4151, seq[0])], seq=seq[0])
        return "f_old" not in kinds(fg) and "p_old" not in kinds(pg)
    wait_until(purged, 20, "the purge")
    assert kinds(fg) == {"f_kept", "f_new"}
    assert kinds(pg) == {"p_kept", "p_week"}
    # Downgraded, the premium group keeps a week too.
    cancel(srv, rich)

    def week():
        return purged() and kinds(pg) == set()
    wait_until(week, 20, "the downgraded purge")
