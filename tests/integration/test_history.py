"""A premium group's vault history and export, through HTTP on a real
cofferd, on both engines: history rows after syncs on two days (the days
pass through [dev] clock_offset and a reload, not by waiting), the days
parameter, a downgrade stopping both while the rows stay stored, a
2,000-item vault exported as CSV (and JSON) that parses back to the vault
page's numbers, and who may call each route.
"""
import csv
import io
import re
import socket
import time

import pytest
import requests

from billingkit import billing_settings, cancel, premium
from client import TIMEOUT, assert_error, db_sql, start_mock
from conftest import Launcher
from groupkit import CONTAINERS, Player, catalog
from helpers import STOP_TIMEOUT, wait_until

BIG = 6000              # items per container of the hang-up test's vault


@pytest.fixture(scope="module")
def srv(request, engine, tmp_path_factory):
    launcher = Launcher(tmp_path_factory)
    request.addfinalizer(launcher.close)
    tmp = tmp_path_factory.mktemp("history")
    settings = billing_settings(tmp)
    # Room for a vault larger than the socket buffers (the hang-up test).
    settings["limits"] = {"max_container_items": BIG}
    return start_mock(launcher.start, engine, settings, catalog=True)


def set_clock(inst, offset):
    """Move the store's clock to offset (a duration) and wait until every
    worker runs with it."""
    old = wait_until(lambda: inst.worker_pids(), 10, "the worker pids")
    inst.write_config({"dev": {"clock_offset": offset}})
    mark = inst.log_mark()
    inst.reload()
    inst.wait_log(r"reload complete", since=mark)

    def replaced():
        now = inst.worker_pids()
        return now and not set(now) & set(old) and now
    wait_until(replaced, 10, "the workers to be replaced")
    wait_until(lambda: not any(p in inst.survivors() for p in old), STOP_TIMEOUT,
               "the old workers to exit")


def day(offset_days=0):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + offset_days * 86400))


def owner_with_vault(srv, login, items, name="Hoarder"):
    p = Player(srv, login)
    premium(srv, p)
    p.link(name)
    g = p.create_group("Vault " + login, [name])
    p.sync(name, "bank", items)
    return p, g


def vault_pages(p, gid):
    """Every item of the vault page by page (id order), and the totals."""
    items, cursor = [], None
    while True:
        params = {"sort": "id", "order": "asc", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        r = p.get(f"/api/v1/groups/{gid}/vault", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items, page["total_value"], page["item_count"]


# ---- history ----

def test_history_rows_after_syncs_on_two_days(srv):
    ids = sorted(catalog())[:3]
    price = {i: catalog()[i][1] for i in ids}
    p, g = owner_with_vault(srv, "historian", [(ids[0], 10)])
    base = f"/api/v1/groups/{g['id']}/vault/history"
    try:
        r = p.get(base)
        assert r.status_code == 200, r.text
        assert r.json()["history"] == [{"date": day(), "total_value": 10 * price[ids[0]],
                                         "item_count": 1}]
        # Later the same day: the day's row follows the vault.
        p.sync("Hoarder", "bank", [(ids[0], 10), (ids[1], 2)], seq=2)
        today = 10 * price[ids[0]] + 2 * price[ids[1]]
        assert p.get(base).json()["history"] == [
            {"date": day(), "total_value": today, "item_count": 2}]
        # The next day: a row of its own, yesterday's kept.
        set_clock(srv, "1d")
        p.sync("Hoarder", "bank", [(ids[2], 1)], seq=3)
        tomorrow = price[ids[2]]
        r = p.get(base, params={"days": 2})
        assert r.status_code == 200, r.text
        assert r.json()["history"] == [
            {"date": day(), "total_value": today, "item_count": 2},
            {"date": day(1), "total_value": tomorrow, "item_count": 1}]
        # days=1 is today only.
        assert [h["date"] for h in p.get(base, params={"days": 1}).json()["history"]] \
            == [day(1)]
        assert db_sql(srv, f"SELECT count(*) FROM vault_daily WHERE group_id = {g['id']}") \
            == "2"
    finally:
        set_clock(srv, "0")


def test_history_days_parameter(srv):
    p, g = owner_with_vault(srv, "dayscount", [(sorted(catalog())[0], 1)], "Counter")
    base = f"/api/v1/groups/{g['id']}/vault/history"
    for bad in ["0", "366", "-1", "x", "1.5"]:
        assert_error(p.get(base, params={"days": bad}), 400, "bad_request", bad)
    assert p.get(base, params={"days": 365}).status_code == 200


def test_free_group_and_downgrade_are_not_served(srv):
    p, g = owner_with_vault(srv, "downgraded", [(sorted(catalog())[0], 5)], "Shrinker")
    base = f"/api/v1/groups/{g['id']}/vault"
    assert p.get(base + "/history").status_code == 200
    cancel(srv, p)
    assert_error(p.get(base + "/history"), 403, "forbidden")
    assert_error(p.get(base + "/export"), 403, "forbidden")
    # Still stored; premium again serves it.
    assert db_sql(srv, f"SELECT count(*) FROM vault_daily WHERE group_id = {g['id']}") == "1"
    premium(srv, p)
    assert len(p.get(base + "/history").json()["history"]) == 1
    # A free owner's group from the start.
    f = Player(srv, "alwaysfree")
    fg = f.create_group("Free")
    assert_error(f.get(f"/api/v1/groups/{fg['id']}/vault/history"), 403, "forbidden")
    assert_error(f.get(f"/api/v1/groups/{fg['id']}/vault/export"), 403, "forbidden")


# ---- export ----

def test_export_of_2000_items_parses_back_to_the_vault(srv):
    known = sorted(catalog())[:1990]
    items = [(i, (n % 97) + 1) for n, i in enumerate(known)]
    # Ids the catalog lacks: no name, price 0.
    items += [(10_000_000 + n, 3) for n in range(10)]
    p, g = owner_with_vault(srv, "exporter", items, "Exporter")
    pages, total, count = vault_pages(p, g["id"])
    assert count == 2000 and len(pages) == 2000

    r = p.get(f"/api/v1/groups/{g['id']}/vault/export", stream=True)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers.get("Transfer-Encoding") == "chunked"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert len(rows) == 2000
    assert sum(int(row["value"]) for row in rows) == total
    by_id = {row["id"]: row for row in rows}
    for it in pages:
        row = by_id[str(it["id"])]
        assert (row["name"] or None) == it["name"], row
        assert int(row["qty"]) == it["qty"]
        assert int(row["unit_price"]) == it["unit_price"]
        assert int(row["value"]) == it["value"]
        assert row["holders"] == ";".join(
            f"{h['character']}/{h['container']}/{h['qty']}" for h in it["holders"])

    r = p.get(f"/api/v1/groups/{g['id']}/vault/export", params={"format": "json"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["group_id"] == g["id"] and len(doc["items"]) == 2000
    assert sum(it["value"] for it in doc["items"]) == total
    assert {it["id"]: it["qty"] for it in doc["items"]} == \
        {it["id"]: it["qty"] for it in pages}
    assert_error(p.get(f"/api/v1/groups/{g['id']}/vault/export",
                       params={"format": "xml"}), 400, "bad_request")


def test_export_holders_in_the_vault_pages_order(srv):
    """Each item's holders in the export (CSV and JSON) are the vault
    page's, in its order: largest qty first, then character, then
    container.  The syncs add them in another order on purpose."""
    ids = sorted(catalog())[:3]
    p = Player(srv, "holdorder")
    premium(srv, p)
    for name in ("Zed", "Amy"):
        p.link(name)
    g = p.create_group("Order", ["Zed", "Amy"])
    p.sync("Zed", "inventory", [(ids[0], 5), (ids[1], 1), (ids[2], 2)])
    p.sync("Zed", "bank", [(ids[0], 5), (ids[1], 7)])
    p.sync("Amy", "inventory", [(ids[0], 5), (ids[2], 2)])
    p.sync("Amy", "bank", [(ids[0], 9), (ids[1], 1)])
    pages, _, _ = vault_pages(p, g["id"])
    page = {it["id"]: it["holders"] for it in pages}
    assert [(h["character"], h["container"], h["qty"]) for h in page[ids[0]]] == [
        ("Amy", "bank", 9), ("Amy", "inventory", 5), ("Zed", "bank", 5),
        ("Zed", "inventory", 5)]

    base = f"/api/v1/groups/{g['id']}/vault/export"
    r = p.get(base, params={"format": "json"})
    assert r.status_code == 200, r.text
    assert {it["id"]: it["holders"] for it in r.json()["items"]} == page
    r = p.get(base)
    assert r.status_code == 200, r.text
    rows = csv.DictReader(io.StringIO(r.content.decode("utf-8")))
    assert {int(row["id"]): row["holders"] for row in rows} == {
        i: ";".join(f"{h['character']}/{h['container']}/{h['qty']}" for h in hs)
        for i, hs in page.items()}


def test_export_quotes_names(srv):
    p, g = owner_with_vault(srv, "quoter", [(sorted(catalog())[0], 1)], "Quo Ter")
    r = p.get(f"/api/v1/groups/{g['id']}/vault/export")
    assert r.status_code == 200, r.text
    lines = r.content.decode().split("\r\n")
    assert lines[0] == "id,name,qty,unit_price,value,holders"
    assert lines[1].endswith(',"Quo Ter/bank/1"'), lines[1]
    assert lines[2] == ""


def test_export_to_a_client_that_goes_away(srv):
    """A client that stops reading and hangs up mid-export ends the export
    at once (no worker waits for it), and the next export is whole."""
    p = Player(srv, "leaver")
    premium(srv, p)
    p.link("Leaver")
    g = p.create_group("Big vault", ["Leaver"])
    for n, container in enumerate(CONTAINERS):
        p.sync("Leaver", container, [(n * BIG + i, 1) for i in range(BIG)])
    path = f"/api/v1/groups/{g['id']}/vault/export?format=json"
    mark = srv.log_mark()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n"
              f"Authorization: Bearer {p.token}\r\n\r\n".encode())
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    time.sleep(1)       # the server fills what the socket takes, and waits
    s.close()
    # Its access log line is written when the handler ends.
    line = srv.wait_log(r"GET /api/v1/groups/%d/vault/export 200 .*ms$" % g["id"],
                        timeout=5, since=mark).group(0)
    # It was still sending when the client hung up, a second in.
    assert float(line.split()[-1][:-2]) >= 900, line
    r = p.get(path)
    assert r.status_code == 200 and len(r.json()["items"]) == 8 * BIG, r.text[:200]


# ---- who may call ----

@pytest.mark.parametrize("route", ["history", "export"])
def test_authorization(srv, route):
    owner, g = owner_with_vault(srv, f"authz_{route}", [(sorted(catalog())[0], 1)],
                                f"Az {route}")
    path = f"/api/v1/groups/{g['id']}/vault/{route}"
    admin = Player(srv, f"authz_{route}_admin")
    member = Player(srv, f"authz_{route}_member")
    stranger = Player(srv, f"authz_{route}_stranger")
    assert admin.join(g["join_code"]).status_code == 200
    assert member.join(g["join_code"]).status_code == 200
    r = owner.patch(f"/api/v1/groups/{g['id']}/members/{admin.id}", {"role": "admin"})
    assert r.status_code == 200, r.text
    for who in (owner, admin, member):
        assert who.get(path).status_code == 200, who.login
        assert who.tget(path).status_code == 200, who.login
    assert_error(stranger.get(path), 404, "not_found")
    assert_error(requests.get(srv.url + path, timeout=TIMEOUT), 401, "unauthorized")


# ---- retention (last: it moves the clock a year on) ----

def test_history_past_the_longest_plan_is_purged(srv):
    """The retention pass deletes vault_daily rows older than the longest
    any plan keeps (365 days, today included) and keeps the 365th day."""
    item = sorted(catalog())[0]
    p, g = owner_with_vault(srv, "yearling", [(item, 1)], "Yearling")
    rows = f"SELECT day FROM vault_daily WHERE group_id = {g['id']} ORDER BY day"
    for d in (-30, 1):
        db_sql(srv, f"INSERT INTO vault_daily (group_id, day, total_value, item_count) "
                    f"VALUES ({g['id']}, '{day(d)}', 5, 1)")
    assert db_sql(srv, rows).split() == [day(-30), day(0), day(1)]
    # A year on, the last 365 days are day(1) .. day(365).
    set_clock(srv, "365d")
    try:
        # A sync records activity, which makes the delivery loop look and
        # purge; the purge runs at most every 2 s per worker, so keep writing.
        seq = [1]

        def purged():
            seq[0] += 1
            p.sync("Yearling", "bank", [(item, seq[0])], seq=seq[0])
            return db_sql(srv, rows).split() == [day(1), day(365)]
        wait_until(purged, 20, "the history purge")
    finally:
        set_clock(srv, "0")
