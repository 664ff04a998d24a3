"""Group activity webhooks, through HTTP on a real cofferd, on both engines:
managing them (roles, validation, the plan's limit), what a delivery looks
like (headers, signature, the json and discord bodies, test events), and
the outbox's promises -- receivers that are down, fail, hang or are slow
are retried and get each delivery until it is acknowledged, never again
after; a delivery that keeps failing ends failed; a private address is
refused at creation and at delivery; two daemons on one PostgreSQL
database send each delivery once.

Receivers are real HTTP servers on loopback (Python threads), which is why
the harness runs with [webhooks] allow_private = on; the tests of the
address check start a server with it off.
"""
import hashlib
import hmac
import json
import os
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from client import TIMEOUT, assert_error, db_sql, mock_server, start_mock
from groupkit import Player
from helpers import free_ports, wait_until

TIMEOUT_S = 1                   # [webhooks] timeout of these servers
MAX_ATTEMPTS = 3
SETTINGS = {"webhooks": {"timeout": f"{TIMEOUT_S}s", "max_attempts": MAX_ATTEMPTS}}
# The first retry comes 1-2 s after a failure, the second 4-8 s after.
DELIVERY_WAIT = 20

srv = mock_server(SETTINGS)


# ---- a receiver ----

class Receiver:
    """An HTTP server on loopback that records every request and answers
    as told: script is a list of behaviours for successive requests (then
    200 for ever), each a status or ("sleep", seconds, status)."""

    def __init__(self, script=(), port=0):
        self.hits = []
        self.lock = threading.Lock()
        self.script = list(script)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.hits.append((dict(self.headers), body, time.time()))
                    todo = receiver.script.pop(0) if receiver.script else 200
                if isinstance(todo, tuple):
                    time.sleep(todo[1])
                    todo = todo[2]
                try:
                    self.send_response(todo)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass        # cofferd gave up waiting

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def by_delivery(self):
        """{Coffer-Delivery id: number of requests}."""
        with self.lock:
            counts = {}
            for headers, _, _ in self.hits:
                d = int(headers["Coffer-Delivery"])
                counts[d] = counts.get(d, 0) + 1
            return counts

    def bodies(self):
        with self.lock:
            return [(h, b) for h, b, _ in self.hits]


@pytest.fixture
def receiver():
    made = []

    def make(script=(), port=0):
        r = Receiver(script, port)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


# ---- set-up through the API ----

def char_name():
    return "w" + uuid.uuid4().hex[:11]


def premium(inst, player):
    db_sql(inst, f"UPDATE users SET plan = 'premium' WHERE id = {player.id}")


def owner_with_group(inst, plan="premium"):
    """A player owning a group that shares one of their characters."""
    owner = Player(inst, "o" + uuid.uuid4().hex[:10])
    if plan == "premium":
        premium(inst, owner)
    name = char_name()
    owner.link(name)
    group = owner.create_group("Hooks", [name])
    return owner, group["id"], name


def hooks(gid, rest=""):
    return f"/api/v1/groups/{gid}/webhooks{rest}"


def create(owner, gid, url, fmt=None):
    body = {"url": url} if fmt is None else {"url": url, "format": fmt}
    r = owner.post(hooks(gid), body)
    assert r.status_code == 201, r.text
    return r.json()


def post_events(player, name, events, inst=None):
    """The plugin posts events about its character name (through inst,
    another daemon on the same database, if given)."""
    base = (inst or player.inst).url
    r = requests.post(f"{base}/api/v1/sync/characters/{name}/activity",
                      json={"events": events}, headers=player.bearer, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def deliveries(owner, gid, wid):
    r = owner.get(hooks(gid, f"/{wid}/deliveries"))
    assert r.status_code == 200, r.text
    return r.json()["deliveries"]


def wait_final(owner, gid, wid, n=1, timeout=DELIVERY_WAIT):
    """The webhook's deliveries once n of them exist and none is pending."""
    def done():
        ds = deliveries(owner, gid, wid)
        return ds if len(ds) >= n and all(d["status"] != "pending" for d in ds) else None
    return wait_until(done, timeout, "the deliveries to finish")


def verify(secret, headers, body):
    """The Coffer-Signature of a request checks out with secret."""
    parts = dict(p.split("=", 1) for p in headers["Coffer-Signature"].split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(mac.hexdigest(), parts["v1"]), headers
    assert abs(int(parts["t"]) - time.time()) < 60
    return True


# ---- managing webhooks ----

def test_roles_and_crud(srv):
    owner, gid, _ = owner_with_group(srv)
    admin, member, stranger = (Player(srv, p + uuid.uuid4().hex[:8]) for p in "ams")
    code = owner.get(f"/api/v1/groups/{gid}").json()["join_code"]
    for p in (admin, member):
        assert p.join(code).status_code == 200
    r = owner.patch(f"/api/v1/groups/{gid}/members/{admin.id}", {"role": "admin"})
    assert r.status_code == 200, r.text
    hook = create(owner, gid, "https://example.com/hook")
    wid = hook["id"]

    def every_route(p):
        return [p.get(hooks(gid)), p.post(hooks(gid), {"url": "https://example.com/x"}),
                p.patch(hooks(gid, f"/{wid}"), {"enabled": False}),
                p.delete(hooks(gid, f"/{wid}")), p.post(hooks(gid, f"/{wid}/test")),
                p.get(hooks(gid, f"/{wid}/deliveries"))]
    for r in every_route(stranger):
        assert_error(r, 404, "not_found")
    for r in every_route(member):
        assert_error(r, 403, "forbidden")

    assert set(hook) == {"id", "url", "format", "enabled", "created_at", "secret"}
    assert hook["url"] == "https://example.com/hook" and hook["format"] == "json"
    assert hook["enabled"] is True and hook["created_at"].endswith("Z")
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    # Admins manage them as the owner does; the secret is shown once.
    second = create(admin, gid, "http://example.org:8080/in?x=1", "discord")
    assert second["format"] == "discord"
    listed = admin.get(hooks(gid)).json()["webhooks"]
    assert [h["id"] for h in listed] == [wid, second["id"]]
    assert all("secret" not in h for h in listed)
    r = admin.patch(hooks(gid, f"/{wid}"), {"format": "discord", "enabled": False})
    assert r.status_code == 200, r.text
    assert r.json() == {**{k: v for k, v in hook.items() if k != "secret"},
                        "format": "discord", "enabled": False}
    r = owner.patch(hooks(gid, f"/{wid}"), {"url": "https://example.net/", "enabled": True})
    assert r.json()["url"] == "https://example.net/" and r.json()["enabled"] is True
    assert admin.get(hooks(gid, f"/{wid}/deliveries")).json() == {"deliveries": []}
    # A plugin token reads, never writes.
    assert owner.tget(hooks(gid)).status_code == 200
    r = requests.post(srv.url + hooks(gid), json={"url": "https://example.com/"},
                      headers=owner.bearer, timeout=TIMEOUT)
    assert_error(r, 403, "forbidden")
    assert admin.delete(hooks(gid, f"/{wid}")).status_code == 204
    for r in (admin.delete(hooks(gid, f"/{wid}")), admin.patch(hooks(gid, f"/{wid}"), {}),
              admin.post(hooks(gid, f"/{wid}/test")),
              admin.get(hooks(gid, f"/{wid}/deliveries")),
              admin.get(hooks(gid, "/abc/deliveries"))):
        assert_error(r, 404, "not_found")
    # Another group's webhook is not found through this one.
    _, other, _ = owner_with_group(srv)
    assert_error(owner.delete(hooks(other, f"/{second['id']}")), 404, "not_found")


@pytest.mark.parametrize("body", [
    {}, {"url": ""}, {"url": 5}, {"url": "example.com/hook"}, {"url": "/hook"},
    {"url": "ftp://example.com/"}, {"url": "javascript:alert(1)"},
    {"url": "http://"}, {"url": "https://example.com/ x"},
    {"url": "https://example.com/", "format": "xml"},
    {"url": "https://example.com/", "format": None, "extra": 1},
    {"url": "https://example.com/" + "a" * 2100},
])
def test_invalid_bodies(srv, body):
    owner, gid, _ = owner_with_group(srv)
    assert_error(owner.post(hooks(gid), body), 422, "invalid", body)
    assert owner.get(hooks(gid)).json() == {"webhooks": []}


def test_plan_limit(srv):
    owner, gid, _ = owner_with_group(srv, plan="free")
    r = owner.post(hooks(gid), {"url": "https://example.com/"})
    assert_error(r, 422, "invalid")
    assert "free" in r.json()["error"]["message"] and "0 webhooks" in r.json()["error"]["message"]
    # Premium is the owner's: an admin adding one counts against it.
    premium(srv, owner)
    for i in range(10):
        create(owner, gid, f"https://example.com/{i}")
    r = owner.post(hooks(gid), {"url": "https://example.com/11"})
    assert_error(r, 422, "invalid")
    assert "10 webhooks" in r.json()["error"]["message"]
    assert len(owner.get(hooks(gid)).json()["webhooks"]) == 10


# ---- deliveries ----

def test_json_delivery_is_the_activity_entry_signed(srv, receiver):
    owner, gid, name = owner_with_group(srv)
    rcv = receiver()
    hook = create(owner, gid, rcv.url)
    post_events(owner, name, [{"kind": "loot", "data": {"item": "Abyssal whip", "n": 1}},
                              {"kind": "quest"}])
    ds = wait_final(owner, gid, hook["id"], 2)
    feed = owner.get(f"/api/v1/groups/{gid}/activity").json()["activity"]
    assert len(ds) == 2
    for d, entry in zip(ds, feed):          # both newest first
        assert set(d) == {"id", "event_id", "status", "attempts", "last_status_code",
                          "last_error", "next_attempt_at", "delivered_at"}
        assert d["status"] == "delivered" and d["attempts"] == 1
        assert d["last_status_code"] == 200 and d["last_error"] is None
        assert d["next_attempt_at"] is None and d["delivered_at"].endswith("Z")
        assert d["event_id"] == entry["id"]
    got = {}
    for headers, body in rcv.bodies():
        assert headers["Content-Type"] == "application/json"
        assert headers["Coffer-Event"] == "activity"
        verify(hook["secret"], headers, body)
        got[int(headers["Coffer-Delivery"])] = json.loads(body)
    assert got == {d["id"]: entry for d, entry in zip(ds, feed)}
    assert list(json.loads(rcv.bodies()[0][1])) == ["id", "kind", "character", "user_id",
                                                    "data", "created_at"]


def test_each_group_and_each_webhook_gets_its_own(srv, receiver):
    owner, gid, name = owner_with_group(srv)
    other = owner.create_group("Second", [name])["id"]
    rcv = receiver()
    a, b = create(owner, gid, rcv.url), create(owner, gid, rcv.url + "?b")
    c = create(owner, other, rcv.url + "?c")
    disabled = create(owner, other, rcv.url + "?off")
    assert owner.patch(hooks(other, f"/{disabled['id']}"),
                       {"enabled": False}).status_code == 200
    post_events(owner, name, [{"kind": "loot"}])
    for g, h in ((gid, a), (gid, b), (other, c)):
        assert wait_final(owner, g, h["id"])[0]["status"] == "delivered"
    assert deliveries(owner, other, disabled["id"]) == []
    assert len(rcv.bodies()) == 3
    assert sorted(rcv.by_delivery().values()) == [1, 1, 1]


def test_test_delivery_and_discord_format(srv, receiver):
    owner, gid, name = owner_with_group(srv)
    rcv = receiver()
    hook = create(owner, gid, rcv.url, "discord")
    r = owner.post(hooks(gid, f"/{hook['id']}/test"))
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "pending" and queued["event_id"] is None
    assert queued["attempts"] == 0
    ds = wait_final(owner, gid, hook["id"])
    assert ds[0]["id"] == queued["id"] and ds[0]["status"] == "delivered"
    headers, body = rcv.bodies()[0]
    assert headers["Coffer-Event"] == "test" and verify(hook["secret"], headers, body)
    assert set(json.loads(body)) == {"content"}
    post_events(owner, name, [{"kind": "death", "data": {"where": "line\nbreak"}}])
    wait_final(owner, gid, hook["id"], 2)
    content = json.loads(rcv.bodies()[1][1])["content"]
    assert name in content and "death" in content and "\n" not in content
    # The json format's test event is shaped like an activity entry.
    plain = create(owner, gid, rcv.url)
    owner.post(hooks(gid, f"/{plain['id']}/test"))
    wait_final(owner, gid, plain["id"])
    event = json.loads(rcv.bodies()[2][1])
    assert event["kind"] == "test" and event["id"] is None and event["user_id"] == owner.id


@pytest.mark.parametrize("case", ["down", "error", "hanging", "slow"])
def test_failing_receivers_are_retried_until_acknowledged(srv, receiver, case):
    owner, gid, name = owner_with_group(srv)
    port = free_ports(1)[0]
    script = {"down": [], "error": [500, 503], "hanging": [("sleep", 3 * TIMEOUT_S, 200)],
              "slow": [("sleep", TIMEOUT_S / 2, 204)]}[case]
    rcv = receiver(script, port) if case != "down" else None
    hook = create(owner, gid, f"http://127.0.0.1:{port}/hook")
    t0 = time.monotonic()
    post_events(owner, name, [{"kind": "loot"}])
    if case == "down":
        def failed_once():
            ds = deliveries(owner, gid, hook["id"])
            return ds and ds[0]["attempts"] == 1 and ds[0]["last_error"]
        wait_until(failed_once, 10, "the first attempt to fail")
        d = deliveries(owner, gid, hook["id"])[0]
        assert d["status"] == "pending" and d["last_status_code"] is None
        assert d["next_attempt_at"] is not None
        rcv = receiver((), port)
    d = wait_final(owner, gid, hook["id"])[0]
    assert d["status"] == "delivered", d
    expected = {"down": 2, "error": 3, "hanging": 2, "slow": 1}[case]
    assert d["attempts"] == expected, d
    if case == "hanging":
        assert time.monotonic() - t0 >= TIMEOUT_S
    # Acknowledged: never sent again, whatever time passes.
    hits = rcv.by_delivery()
    time.sleep(3)
    assert rcv.by_delivery() == hits == {d["id"]: expected - (case == "down")}


def test_a_receiver_never_delays_requests_or_other_receivers(srv, receiver):
    owner, gid, name = owner_with_group(srv)
    stuck = receiver([("sleep", 3 * TIMEOUT_S, 200)] * 5)
    fine = receiver()
    create(owner, gid, stuck.url)
    good = create(owner, gid, fine.url)
    t0 = time.monotonic()
    post_events(owner, name, [{"kind": "loot"}])
    assert time.monotonic() - t0 < TIMEOUT_S
    wait_until(lambda: fine.hits and stuck.hits, 10, "both receivers")
    # The healthy one was served while the other still hung.
    assert fine.hits[0][2] < stuck.hits[0][2] + TIMEOUT_S
    assert wait_final(owner, gid, good["id"])[0]["status"] == "delivered"


def test_failed_after_max_attempts(srv, receiver):
    owner, gid, name = owner_with_group(srv)
    rcv = receiver([500] * 10)
    hook = create(owner, gid, rcv.url)
    post_events(owner, name, [{"kind": "loot"}])
    d = wait_final(owner, gid, hook["id"], timeout=30)[0]
    assert d["status"] == "failed" and d["attempts"] == MAX_ATTEMPTS, d
    assert d["last_status_code"] == 500 and d["last_error"] == "HTTP 500"
    assert d["delivered_at"] is None and d["next_attempt_at"] is None
    assert rcv.by_delivery() == {d["id"]: MAX_ATTEMPTS}


def test_disabling_fails_what_is_pending(srv, receiver):
    owner, gid, name = owner_with_group(srv)
    rcv = receiver([500] * 10)
    hook = create(owner, gid, rcv.url)
    post_events(owner, name, [{"kind": "loot"}])
    wait_until(lambda: rcv.bodies(), 10, "the first attempt")
    assert owner.patch(hooks(gid, f"/{hook['id']}"), {"enabled": False}).status_code == 200
    d = deliveries(owner, gid, hook["id"])[0]
    assert d["status"] == "failed" and d["last_error"] == "the webhook was disabled"
    # Nothing new is queued for a disabled webhook.
    post_events(owner, name, [{"kind": "loot"}])
    assert len(deliveries(owner, gid, hook["id"])) == 1


def test_deliveries_list_newest_first_with_limit(srv, receiver):
    owner, gid, name = owner_with_group(srv)
    rcv = receiver()
    hook = create(owner, gid, rcv.url)
    post_events(owner, name, [{"kind": "loot", "data": {"n": i}} for i in range(5)])
    ds = wait_final(owner, gid, hook["id"], 5)
    assert [d["id"] for d in ds] == sorted((d["id"] for d in ds), reverse=True)
    r = owner.get(hooks(gid, f"/{hook['id']}/deliveries?limit=2"))
    assert [d["id"] for d in r.json()["deliveries"]] == [d["id"] for d in ds[:2]]
    for q in ("limit=0", "limit=201", "limit=x"):
        assert_error(owner.get(hooks(gid, f"/{hook['id']}/deliveries?{q}")),
                     400, "bad_request")


# ---- their own servers ----

def test_feature_flag_pauses_everything(cofferd, engine, receiver):
    inst = start_mock(cofferd, engine, SETTINGS)
    owner, gid, name = owner_with_group(inst)
    rcv = receiver()
    hook = create(owner, gid, rcv.url)

    def flag(on):
        r = requests.put(inst.admin_url + "/api/v1/ops/flags/webhooks",
                         json={"enabled": on}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
    flag(False)
    time.sleep(2.5)                 # every worker's flag cache has expired
    for r in (owner.get(hooks(gid)), owner.post(hooks(gid), {"url": rcv.url}),
              owner.get(hooks(gid, f"/{hook['id']}/deliveries"))):
        assert_error(r, 503, "feature_disabled")
    post_events(owner, name, [{"kind": "loot"}])        # still recorded
    time.sleep(2)
    assert rcv.bodies() == []
    flag(True)
    wait_until(lambda: rcv.bodies(), 15, "delivery after the flag is back on")
    # The receiver has the body before the sender has its answer and marks
    # the delivery: wait for the mark, not just for the body.
    assert wait_final(owner, gid, hook["id"])[0]["status"] == "delivered"


def test_no_resend_after_workers_die(cofferd, engine, receiver):
    inst = start_mock(cofferd, engine, SETTINGS)
    owner, gid, name = owner_with_group(inst)
    rcv = receiver()
    hook = create(owner, gid, rcv.url)
    post_events(owner, name, [{"kind": "loot"}])
    d = wait_final(owner, gid, hook["id"])[0]
    old = inst.worker_pids()
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: (w := inst.worker_pids()) and len(w) == 2 and not set(w) & set(old),
               20, "new workers")
    wait_until(lambda: inst.get("/readyz").status_code == 200, 20, "ready")
    time.sleep(3)
    assert rcv.by_delivery() == {d["id"]: 1}
    assert deliveries(owner, gid, hook["id"])[0]["status"] == "delivered"


def test_old_delivered_rows_are_purged(cofferd, engine):
    inst = start_mock(cofferd, engine, SETTINGS)
    owner, gid, _ = owner_with_group(inst)
    hook = create(owner, gid, "http://127.0.0.1:9/never")
    wid = hook["id"]
    old, recent = "2000-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"
    for status, at in (("delivered", old), ("delivered", recent), ("failed", None)):
        db_sql(inst, "INSERT INTO webhook_deliveries (webhook_id, event, payload, status, "
                     f"delivered_at) VALUES ({wid}, 'activity', '{{}}', '{status}', "
                     + (f"'{at}')" if at else "NULL)"))
    mark = inst.log_mark()
    inst.reload()                   # new workers look (and purge) at start
    inst.wait_log(r"webhooks: purged 1 deliveries", timeout=20, since=mark)
    assert sorted(d["status"] for d in deliveries(owner, gid, wid)) == ["delivered", "failed"]


def test_private_addresses_are_refused(cofferd, engine, receiver):
    inst = start_mock(cofferd, engine, {**SETTINGS, "webhooks": {
        **SETTINGS["webhooks"], "allow_private": "off"}})
    owner, gid, name = owner_with_group(inst)
    rcv = receiver()
    for url in (rcv.url, f"http://localhost:{rcv.port}/hook", "http://[::1]/",
                "http://10.1.2.3/", "https://192.168.0.1/", "http://169.254.169.254/latest",
                "http://[fe80::1]/", "http://0.0.0.0:80/", "http://224.0.0.1/",
                "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/", "http://172.16.5.4/"):
        r = owner.post(hooks(gid), {"url": url})
        assert_error(r, 422, "invalid", url)
        assert "private" in r.json()["error"]["message"]
    assert_error(owner.post(hooks(gid), {"url": "http://no-such-host.invalid/"}),
                 422, "invalid")
    # A public address is taken without connecting to it (TEST-NET-1).
    public = create(owner, gid, "http://192.0.2.10/hook")
    assert owner.delete(hooks(gid, f"/{public['id']}")).status_code == 204
    # A name that pointed elsewhere when the webhook was made and points
    # inside now (rebinding): the address connected to is what counts.
    wid = int(db_sql(inst, "INSERT INTO webhooks (group_id, url, secret) VALUES "
                           f"({gid}, 'http://localhost:{rcv.port}/hook', 's') RETURNING id"))
    post_events(owner, name, [{"kind": "loot"}])
    d = wait_final(owner, gid, wid)[0]
    assert d["status"] == "failed" and d["attempts"] == 1, d
    assert "not a public address" in d["last_error"] and d["last_status_code"] is None
    assert rcv.bodies() == []


def test_two_daemons_on_one_database_deliver_each_once(cofferd, engine, receiver):
    if engine != "postgres":
        pytest.skip("several hosts share a database on PostgreSQL only")
    a = start_mock(cofferd, engine, SETTINGS)
    b = start_mock(cofferd, engine, {**SETTINGS, "database": {"postgres_dsn": a.dsn}})
    owner, gid, name = owner_with_group(a)
    rcv = receiver([("sleep", 0.05, 200)] * 1000)
    hooks_made = [create(owner, gid, rcv.url + f"?{i}") for i in range(3)]
    for i in range(20):
        post_events(owner, name, [{"kind": "loot", "data": {"i": i, "j": j}}
                                  for j in range(3)], inst=b if i % 2 else a)
    total = 20 * 3 * len(hooks_made)

    def all_delivered():
        ds = [d for h in hooks_made
              for d in owner.get(hooks(gid, f"/{h['id']}/deliveries?limit=200"))
              .json()["deliveries"]]
        return ds if len(ds) == total and all(d["status"] == "delivered" for d in ds) \
            else None
    ds = wait_until(all_delivered, 60, "every delivery")
    counts = rcv.by_delivery()
    assert len(counts) == total and set(counts.values()) == {1}
    assert set(counts) == {d["id"] for d in ds}
