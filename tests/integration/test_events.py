"""Live events (docs/API.md "Live events") on a real cofferd, both engines:
who may open a group's stream, events from a sync reaching streams on
both workers (and, on PostgreSQL, on another daemon sharing the
database) within a second, Last-Event-ID replay, streams closed when their
user leaves or is removed and when the token or session that opened them
ends (on every worker, and on another daemon; an expired session at a
ping), slow readers dropped and counted, the per-user limit and the ping.

Streams are read with a small SSE client over a raw socket (SSE below),
so a test can also open one and never read it.  Every wait has a
deadline.
"""
import json
import os
import socket
import time
from types import SimpleNamespace

import pytest

from client import MOCK_AUTH, assert_error, create_token, login, start_mock
from conftest import Launcher
from helpers import holds_socket, merge_settings, psql
from sessions import User, char_name, make_group, sql

DEADLINE = 1.0          # the contract: within a second


class SSE:
    """One GET …/events over its own socket, read (or not) by the test."""

    def __init__(self, inst, gid, user, how="token", last_id=None, rcvbuf=None):
        self.inst = inst
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", inst.port))
        lines = [f"GET /api/v1/groups/{gid}/events HTTP/1.1", "Host: 127.0.0.1",
                 "Accept: text/event-stream"]
        if how == "token":
            lines.append(f"Authorization: Bearer {user.token}")
        elif how == "session":
            lines.append("Cookie: " + "; ".join(f"{c.name}={c.value}"
                                                for c in user.web.cookies))
        if last_id is not None:
            lines.append(f"Last-Event-ID: {last_id}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""          # bytes not yet decoded
        self.body = b""         # the decoded body (chunks joined)
        self.closed = False
        self.ended = False      # the closing chunk arrived
        self.status, self.headers = None, {}
        if rcvbuf is None:
            self._read_head()

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.closed:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.raw += data
        return True

    def _read_head(self):
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(deadline):
                raise AssertionError(f"no response head: {self.raw!r}")
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 200:
            n = int(self.headers.get("content-length", "0"))
            while len(self.raw) < n and self._recv(deadline):
                pass
            self.body, self.raw = self.raw[:n], b""

    def json(self):
        return json.loads(self.body)

    def _decode(self):
        """Move whole chunks from raw to body."""
        while True:
            if b"\r\n" not in self.raw:
                return
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.ended = True
            self.body += rest[:size]
            self.raw = rest[size + 2:]

    def blocks(self, timeout=DEADLINE):
        """Blocks ("\\n\\n"-terminated) as they come, until timeout or the end."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            while b"\n\n" in self.body:
                block, self.body = self.body.split(b"\n\n", 1)
                yield block.decode()
            if self.ended or not self._recv(deadline):
                self._decode()
                if b"\n\n" not in self.body:
                    return

    def event(self, kind=None, timeout=DEADLINE):
        """The next event (of kind, skipping others), as {id, event, data}."""
        for block in self.blocks(timeout):
            fields = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(": ")
                fields[k] = v
            if not fields:
                continue
            ev = {"id": int(fields["id"]), "event": fields["event"],
                  "data": json.loads(fields["data"])}
            if kind is None or ev["event"] == kind:
                return ev
        raise AssertionError(f"no {kind or 'event'} within {timeout} s "
                             f"(closed={self.closed}, ended={self.ended})")

    def wait_end(self, timeout=DEADLINE):
        for _ in self.blocks(timeout):
            pass
        return self.ended or self.closed

    def worker(self, pids):
        """The worker holding the other end of this connection."""
        port = self.sock.getsockname()[1]
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    local, remote = fields[1], fields[2]
                    if (int(local.split(":")[1], 16) == self.inst.port and
                            int(remote.split(":")[1], 16) == port):
                        inodes.add(fields[9])
        return next((pid for pid in pids if holds_socket(pid, inodes)), None)

    def close(self):
        self.sock.close()


def metric(inst, name):
    for line in inst.metrics().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def start(cofferd, engine, settings=None):
    return start_mock(cofferd, engine, settings, catalog=True)


def party(inst, n=2):
    """n users, each with a character, all in one group owned by the first."""
    users = [User(inst) for _ in range(n)]
    names = [char_name() for _ in users]
    ids = [u.character(c) for u, c in zip(users, names)]
    gid = make_group(inst, users[0], {u: [i] for u, i in zip(users, ids)})
    return users, names, gid


def sync(user, name, items, seq=1, container="bank"):
    r = user.put(f"/api/v1/sync/characters/{name}/containers/{container}",
                 {"seq": seq, "items": [{"id": i, "qty": q} for i, q in items]})
    assert r.status_code == 200 and r.json()["applied"], r.text


def post_events(user, name, events):
    r = user.post(f"/api/v1/sync/characters/{name}/activity", {"events": events})
    assert r.status_code == 200, r.text


def test_who_may_listen(cofferd, engine):
    inst = start(cofferd, engine)
    (alice, bob), _, gid = party(inst)
    stranger = User(inst)
    s = SSE(inst, gid, stranger)
    assert s.status == 404 and s.json()["error"]["code"] == "not_found"
    assert_error(stranger.get(f"/api/v1/groups/{gid}/events"), 404, "not_found")
    for how in ("session", "token"):
        s = SSE(inst, gid, bob, how=how)
        assert s.status == 200, (how, s.body)
        assert s.headers["content-type"] == "text/event-stream"
        assert s.headers["cache-control"] == "no-store"
        s.close()
    assert SSE(inst, gid, bob, how=None).status == 401
    # Behind the "events" feature flag.
    sql(inst, "UPDATE feature_flags SET enabled = FALSE WHERE key = 'events'")
    deadline = time.monotonic() + 3
    while (s := SSE(inst, gid, bob)).status == 200:
        s.close()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert s.status == 503 and s.json()["error"]["code"] == "feature_disabled"


def test_sync_reaches_streams_on_both_workers(cofferd, engine):
    # The kernel may put many streams in a row on one worker: room for
    # the 40 the loop below may open.
    inst = start(cofferd, engine, {"limits": {"streams_per_user": 20}})
    (alice, bob), (a, _), gid = party(inst)
    workers = inst.worker_pids()
    streams, seen = [], set()
    # Open streams until both workers hold some (the kernel picks).
    while len(streams) < 6 or len(seen) < 2:
        assert len(streams) < 40, "every stream landed on one worker"
        s = SSE(inst, gid, [alice, bob][len(streams) % 2])
        assert s.status == 200
        streams.append(s)
        seen.add(s.worker(workers))
    assert metric(inst, "coffer_event_streams") == len(streams)
    t0 = time.monotonic()
    sync(alice, a, [(995, 1000), (4151, 1)], seq=7)
    totals = alice.get(f"/api/v1/groups/{gid}/vault").json()
    for s in streams:
        ev = s.event("vault", timeout=t0 + DEADLINE - time.monotonic())
        d = ev["data"]
        assert d["group_id"] == gid and d["character"] == a and d["container"] == "bank"
        assert d["seq"] == 7
        assert d["item_count"] == 2 and d["total_value"] == totals["total_value"]
        act = s.event("activity")
        assert act["data"]["kind"] == "items" and act["data"]["character"] == a
        assert act["id"] == act["data"]["id"]
        assert ev["id"] <= act["id"]
    assert time.monotonic() - t0 < 2 * DEADLINE
    assert metric(inst, "coffer_events_delivered_total") >= 2 * len(streams)
    assert metric(inst, "coffer_events_published_total") >= 2
    for s in streams:
        s.close()


def test_other_events_reach_the_stream(cofferd, engine):
    inst = start(cofferd, engine)
    (alice, bob), (a, b), gid = party(inst)
    s = SSE(inst, gid, alice)
    r = bob.post("/api/v1/sync/heartbeat", {"character": b, "world": 302,
                                            "activity": "fishing"})
    assert r.status_code == 204, r.text
    p = s.event("presence")["data"]
    assert p["character"] == b and p["world"] == 302 and p["activity"] == "fishing"
    assert p["at"].endswith("Z")
    r = bob.put(f"/api/v1/sync/characters/{b}/skills", {"seq": 1, "skills": {"attack": 0}})
    assert r.status_code == 200
    r = bob.put(f"/api/v1/sync/characters/{b}/skills", {"seq": 2,
                                                          "skills": {"attack": 14000}})
    assert r.status_code == 200 and r.json()["level_ups"] == 1
    up = s.event("activity")["data"]
    assert up["kind"] == "level_up" and up["data"]["skill"] == "attack"
    post_events(bob, b, [{"kind": "loot", "data": {"n": 1}}])
    ev = s.event("activity")
    assert ev["data"]["kind"] == "loot" and ev["data"]["data"] == {"n": 1}
    # A non-activity event carries the newest activity id the stream saw.
    r = bob.post("/api/v1/sync/heartbeat", {"character": b})
    p = s.event("presence")
    assert p["id"] == ev["id"] and p["data"]["world"] is None
    # A batch: a vault event per changed container.
    r = bob.post("/api/v1/sync/batch", {"character": b, "containers": {
        "bank": {"seq": 1, "items": [{"id": 995, "qty": 5}]},
        "inventory": {"seq": 1, "items": [{"id": 995, "qty": 1}]}}})
    assert r.status_code == 200, r.text
    got = {s.event("vault")["data"]["container"] for _ in range(2)}
    assert got == {"bank", "inventory"}
    # The roster: a share changes.
    r = bob.web.put(inst.url + f"/api/v1/groups/{gid}/members/me",
                    json={"characters": []}, headers=bob.csrf, timeout=5)
    assert r.status_code == 200, r.text
    assert s.event("roster")["data"] == {"group_id": gid}


def test_last_event_id_replays_what_was_missed(cofferd, engine):
    inst = start(cofferd, engine)
    (alice, bob), (a, b), gid = party(inst)
    s = SSE(inst, gid, bob)
    post_events(alice, a, [{"kind": "loot", "data": {"n": i}} for i in range(3)])
    got = [s.event("activity") for _ in range(3)]
    assert [e["data"]["data"]["n"] for e in got] == [0, 1, 2]
    last = got[-1]["id"]
    s.close()
    post_events(alice, a, [{"kind": "loot", "data": {"n": i}} for i in range(3, 5)])
    s = SSE(inst, gid, bob, last_id=last)
    assert s.status == 200
    replay = [s.event("activity") for _ in range(2)]
    assert [e["data"]["data"]["n"] for e in replay] == [3, 4]
    assert replay[0]["id"] > last and replay[1]["id"] > replay[0]["id"]
    post_events(alice, a, [{"kind": "loot", "data": {"n": 5}}])
    live = s.event("activity")
    assert live["data"]["data"]["n"] == 5
    # Without Last-Event-ID, nothing old is replayed; events carry the
    # newest id, so a reconnect with it misses nothing.
    fresh = SSE(inst, gid, bob)
    bob.post("/api/v1/sync/heartbeat", {"character": b})
    p = fresh.event()
    assert p["event"] == "presence" and p["id"] == live["id"]


def test_leaving_or_removal_closes_the_stream(cofferd, engine):
    inst = start(cofferd, engine)
    (alice, bob, carol), _, gid = party(inst, 3)
    sa, sb, sc = SSE(inst, gid, alice), SSE(inst, gid, bob), SSE(inst, gid, carol)
    r = bob.web.post(inst.url + f"/api/v1/groups/{gid}/leave", headers=bob.csrf,
                     timeout=5)
    assert r.status_code == 204, r.text
    assert sb.wait_end(), "the leaver's stream stays open"
    assert sa.event("roster")["data"] == {"group_id": gid}
    r = alice.web.delete(inst.url + f"/api/v1/groups/{gid}/members/{carol.id}",
                         headers=alice.csrf, timeout=5)
    assert r.status_code == 204, r.text
    assert sc.wait_end(), "the removed member's stream stays open"
    assert sa.event("roster")["data"] == {"group_id": gid}
    assert SSE(inst, gid, bob).status == 404
    # Deleting the group ends every stream.
    r = alice.web.delete(inst.url + f"/api/v1/groups/{gid}", headers=alice.csrf, timeout=5)
    assert r.status_code == 204, r.text
    assert sa.wait_end()


def test_slow_reader_is_dropped(cofferd, engine):
    inst = start(cofferd, engine, {"events": {"max_buffer": "64K"}})
    (alice, bob), (a, _), gid = party(inst)
    slow = SSE(inst, gid, bob, rcvbuf=4096)       # never reads
    fast = SSE(inst, gid, alice)
    time.sleep(0.2)
    big = {"text": "x" * 3900}
    deadline = time.monotonic() + 20
    while metric(inst, "coffer_event_slow_readers_total") < 1:
        assert time.monotonic() < deadline, "the slow reader was never dropped"
        post_events(alice, a, [{"kind": "note", "data": big}] * 5)
        while True:     # the fast reader keeps up
            try:
                fast.event("activity", timeout=0.05)
            except AssertionError:
                break
    assert fast.status == 200 and not fast.closed
    wait = time.monotonic() + 5
    while metric(inst, "coffer_event_streams") != 1:
        assert time.monotonic() < wait, "the slow stream is still counted"
        time.sleep(0.05)
    assert "reads too slowly" in inst.log()
    slow.close()


def test_streams_per_user(cofferd, engine):
    inst = start(cofferd, engine, {"limits": {"streams_per_user": 2},
                                   "events": {"ping_interval": "300ms"}})
    (alice, bob), _, gid = party(inst)
    first, second = SSE(inst, gid, bob), SSE(inst, gid, bob, how="session")
    assert first.status == 200 and second.status == 200
    third = SSE(inst, gid, bob)
    assert third.status == 429 and third.json()["error"]["code"] == "rate_limited"
    assert SSE(inst, gid, alice).status == 200      # per user
    first.close()
    # The worker notices at its next ping at the latest.
    deadline = time.monotonic() + 5
    while True:
        s = SSE(inst, gid, bob)
        if s.status == 200:
            break
        assert s.status == 429 and time.monotonic() < deadline
        time.sleep(0.1)


def test_ping(cofferd, engine):
    inst = start(cofferd, engine, {"events": {"ping_interval": "200ms"}})
    (alice, _), _, gid = party(inst)
    s = SSE(inst, gid, alice)
    assert any(b == ": ping" for b in s.blocks(timeout=1.5))


def test_two_hosts_share_events(cofferd, engine, tmp_path_factory):
    if engine != "postgres":
        pytest.skip("hosts share events through PostgreSQL")
    one = start(cofferd, engine)
    launcher = Launcher(tmp_path_factory)
    try:
        two = launcher.start(engine, merge_settings(MOCK_AUTH, {
            "database": {"postgres_dsn": one.dsn}}))
        (alice, bob), (a, b), gid = party(one)
        s1 = SSE(one, gid, alice)
        s2 = SSE(two, gid, alice)
        assert s1.status == 200 and s2.status == 200
        # bob's plugin talks to the other host.
        bob.inst = two
        sync(bob, b, [(995, 10)])
        assert s1.event("vault")["data"]["character"] == b
        assert s2.event("vault")["data"]["character"] == b
        bob.inst = one
        post_events(bob, b, [{"kind": "loot", "data": {"n": 1}}])
        # The sync's activity (published by host two after its vault event)
        # and the loot (host one) reach both hosts; events of different hosts
        # keep no order between them.
        for s in (s1, s2):
            got = [s.event("activity")["data"] for _ in range(2)]
            assert sorted(d["kind"] for d in got) == ["items", "loot"]
            assert [d["data"] for d in got if d["kind"] == "loot"] == [{"n": 1}]
        assert "LISTEN connection open" in two.log()
        assert "coffer_pool_listen_connections 1" in two.metrics()
        # The LISTEN connection comes back after it breaks.
        marks = one.log_mark(), two.log_mark()
        psql(one.dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'cofferd-listen' AND datname = "
                      "current_database()")
        for inst, mark in zip((one, two), marks):
            inst.wait_log(r"LISTEN connection open", timeout=10, since=mark)
        deadline = time.monotonic() + 10
        while "coffer_pool_listen_connections 1" not in one.metrics():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        sync(bob, b, [(995, 11)], seq=2)
        assert s2.event("vault")["data"]["seq"] == 2
    finally:
        launcher.close()


def test_open_streams_do_not_hold_up_a_stop(cofferd, engine):
    inst = start(cofferd, engine)
    (alice, bob), _, gid = party(inst)
    streams = [SSE(inst, gid, u) for u in (alice, bob, alice)]
    # A reload replaces the workers: the old ones end their streams.
    mark = inst.log_mark()
    inst.reload()
    for s in streams:
        assert s.wait_end(timeout=5)
    inst.wait_log(r"reload complete", since=mark, timeout=20)
    # An old worker may still take a connection as it stops: 503, retry.
    deadline = time.monotonic() + 5
    while (s := SSE(inst, gid, alice)).status != 200:
        assert s.status == 503 and time.monotonic() < deadline, s.body
        time.sleep(0.1)
    t0 = time.monotonic()
    assert inst.stop() == 0
    assert time.monotonic() - t0 < 3, "the stop waited for the open stream"
    assert s.wait_end(timeout=1)


def test_vault_page_updates_live_in_a_browser(cofferd, engine, tmp_path):
    import shutil

    from test_web import Chromium
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    inst = start(cofferd, engine)
    (alice, bob), (a, b), gid = party(inst)
    browser = Chromium(binary, tmp_path / "profile")
    try:
        page = browser.open(f"{inst.url}/auth/login/mock?login_hint={alice.login}"
                            f"&name={alice.login}&next=/app/groups/{gid}")
        state = """(() => ({
            live: (document.getElementById('live-status') || {}).textContent || '',
            total: (document.getElementById('total-value') || {}).textContent || '',
            rows: document.querySelectorAll('#vault tbody tr').length}))()"""
        wait_live = time.monotonic() + 20
        while "Live" not in browser.evaluate(page, state)["live"]:
            assert time.monotonic() < wait_live, browser.evaluate(page, state)
            time.sleep(0.05)
        before = browser.evaluate(page, state)
        assert before["rows"] == 0
        sync(bob, b, [(995, 5000), (4151, 1)])      # a member's plugin syncs
        deadline = time.monotonic() + 5
        while True:
            now = browser.evaluate(page, state)
            if now["rows"] == 2 and now["total"] != before["total"]:
                break
            assert time.monotonic() < deadline, (before, now)
            time.sleep(0.05)
    finally:
        browser.close()


# ---- a stream ends with the credential that opened it ----

def still_open(s, user, name):
    """s is open and live: a loot entry posted by user reaches it."""
    post_events(user, name, [{"kind": "loot", "data": {"check": True}}])
    assert s.event("activity")["data"]["data"] == {"check": True}
    assert not s.ended and not s.closed


def session_id(web, inst):
    """The id of web's own session."""
    r = web.get(inst.url + "/api/v1/me/sessions", timeout=5)
    assert r.status_code == 200, r.text
    return next(x["id"] for x in r.json()["sessions"] if x["current"])


def test_revoking_a_token_closes_its_streams(cofferd, engine):
    # Room for the streams the loop below may open, and alice's others.
    inst = start(cofferd, engine, {"limits": {"streams_per_user": 40}})
    (alice, bob), (a, b), gid = party(inst)
    tok = create_token(inst, alice.web, "dashboard")
    holder = SimpleNamespace(token=tok["token"])
    workers = inst.worker_pids()
    # Streams of the token on both workers (the kernel picks).
    streams, seen = [], set()
    while len(streams) < 2 or len(seen) < 2:
        assert len(streams) < 30, "every stream landed on one worker"
        s = SSE(inst, gid, holder)
        assert s.status == 200
        streams.append(s)
        seen.add(s.worker(workers))
    other_token = SSE(inst, gid, alice)                 # alice's other token
    web = SSE(inst, gid, alice, how="session")
    bobs = SSE(inst, gid, bob)
    r = alice.web.delete(inst.url + f"/api/v1/me/tokens/{tok['id']}",
                         headers=alice.csrf, timeout=5)
    assert r.status_code == 204, r.text
    for s in streams:
        assert s.wait_end(), "a revoked token's stream stays open"
    for s in (other_token, web, bobs):
        still_open(s, bob, b)
    assert SSE(inst, gid, holder).status == 401


def test_ending_a_session_closes_its_streams(cofferd, engine):
    inst = start(cofferd, engine)
    (alice, bob), (a, b), gid = party(inst)
    second, _ = login(inst, alice.login)                # alice on another browser
    web1 = SSE(inst, gid, alice, how="session")
    web2 = SSE(inst, gid, SimpleNamespace(web=second), how="session")
    plugin = SSE(inst, gid, alice)
    bobs = SSE(inst, gid, bob, how="session")
    # Ended from the first browser's session list.
    r = alice.web.delete(inst.url + f"/api/v1/me/sessions/{session_id(second, inst)}",
                         headers=alice.csrf, timeout=5)
    assert r.status_code == 204, r.text
    assert web2.wait_end(), "an ended session's stream stays open"
    still_open(web1, bob, b)
    # A logout.
    r = alice.web.post(inst.url + "/auth/logout", headers=alice.csrf, timeout=5)
    assert r.status_code == 204, r.text
    assert web1.wait_end(), "a logged-out session's stream stays open"
    for s in (plugin, bobs):
        still_open(s, bob, b)


def test_deleting_the_account_closes_its_streams(cofferd, engine):
    inst = start(cofferd, engine)
    (bob, alice), (b, a), gid = party(inst)             # bob owns the group
    mine = [SSE(inst, gid, alice), SSE(inst, gid, alice, how="session")]
    bobs = SSE(inst, gid, bob)
    r = alice.web.delete(inst.url + "/api/v1/me", headers=alice.csrf, timeout=5)
    assert r.status_code == 204, r.text
    for s in mine:
        assert s.wait_end(), "a deleted account's stream stays open"
    still_open(bobs, bob, b)


def test_expired_session_closes_its_stream(cofferd, engine):
    # Nothing announces an expiry: the worker re-reads at every fourth ping.
    inst = start(cofferd, engine, {"events": {"ping_interval": "200ms"}})
    (alice, bob), (a, b), gid = party(inst)
    web = SSE(inst, gid, alice, how="session")
    plugin = SSE(inst, gid, alice)
    bobs = SSE(inst, gid, bob, how="session")
    sql(inst, "UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000Z' "
              f"WHERE id = {session_id(alice.web, inst)}")
    assert web.wait_end(timeout=5), "an expired session's stream stays open"
    for s in (plugin, bobs):
        still_open(s, bob, b)


def test_revocation_reaches_another_host(cofferd, engine, tmp_path_factory):
    if engine != "postgres":
        pytest.skip("hosts share revocations through PostgreSQL")
    one = start(cofferd, engine)
    launcher = Launcher(tmp_path_factory)
    try:
        two = launcher.start(engine, merge_settings(MOCK_AUTH, {
            "database": {"postgres_dsn": one.dsn}}))
        (alice, bob), (a, b), gid = party(one)
        tok = create_token(one, alice.web, "dashboard")
        remote = SSE(two, gid, SimpleNamespace(token=tok["token"]))
        remote_web = SSE(two, gid, alice, how="session")
        assert remote.status == 200 and remote_web.status == 200
        r = alice.web.delete(one.url + f"/api/v1/me/tokens/{tok['id']}",
                             headers=alice.csrf, timeout=5)
        assert r.status_code == 204, r.text
        assert remote.wait_end(), "the other host's stream stays open"
        # And a logout on the first host ends the session's stream there.
        r = alice.web.post(one.url + "/auth/logout", headers=alice.csrf, timeout=5)
        assert r.status_code == 204, r.text
        assert remote_web.wait_end(), "the other host's session stream stays open"
    finally:
        launcher.close()
