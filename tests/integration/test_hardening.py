"""The HTTP edge and the process as an attacker or an operator meets them:
text that is not UTF-8, requests framed two ways, the admin listener's
exposure, process titles, the access log, and a stop that does not wait
for clients that went away."""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from client import Account, assert_error, mock_server
from groupkit import Player
from helpers import (STOP_TIMEOUT, cofferd_bin, metric_value, render_config, srcdir,
                     wait_until)

srv = mock_server()


# ---- text ----

@pytest.mark.parametrize("target", [
    "/healthz?q=%ff",                       # a lone continuation byte
    "/api/v1/groups/1/vault?q=%c3%28",     # a broken two-byte sequence
    "/api/v1/groups/1/vault?q=%ed%a0%80",  # a UTF-16 surrogate
    "/api/v1/groups/1/vault?q=%c0%af",     # an overlong '/'
    "/api/v1/groups/%ff/vault",            # in a path segment
    "/app/%fe",
    "/api/v1/groups/1/vault?q=a%00b",      # an encoded NUL would cut the text
])
def test_text_that_is_not_utf8_is_400(srv, target):
    r = srv.get(target)
    assert_error(r, 400, "bad_request")


def test_valid_utf8_passes(srv):
    owner = Player(srv, "utf" + os.urandom(4).hex())
    gid = owner.create_group("Ünïcode")["id"]
    r = owner.get(f"/api/v1/groups/{gid}/vault", params={"q": "Äbyssal ☃"})
    assert r.status_code == 200, r.text


def test_cursor_that_decodes_to_bad_utf8_is_400(srv):
    owner = Player(srv, "cur" + os.urandom(4).hex())
    gid = owner.create_group("Cursors")["id"]
    for cursor in ("na1:ff", "na1:c328", "nd5:eda080"):
        r = owner.get(f"/api/v1/groups/{gid}/vault",
                      params={"sort": "name", "order": "asc" if "na" in cursor else "desc",
                              "cursor": cursor})
        assert_error(r, 400, "bad_request", cursor)


# ---- framing ----

def exchange(inst, raw, timeout=5):
    """Send raw bytes on one connection; everything read until it closes."""
    with socket.create_connection(("127.0.0.1", inst.port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    return data.decode("latin-1")


def test_repeated_content_length_is_refused_and_closes(srv):
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"{}" + smuggled
    raw = (b"POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\nContent-Length: " + str(len(body)).encode() +
           b"\r\n\r\n" + body)
    out = exchange(srv, raw)
    assert out.startswith("HTTP/1.1 400 "), out
    assert "more than one Content-Length" in out
    assert out.count("HTTP/1.1 ") == 1, "the body's hidden request was answered: " + out


def test_content_length_with_chunked_is_refused(srv):
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = (b"POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2\r\n{}\r\n0\r\n\r\n" + smuggled)
    out = exchange(srv, raw)
    assert out.startswith("HTTP/1.1 400 ") or out == "", out
    assert "200 OK" not in out, out


# ---- the admin listener's exposure ----

def test_admin_unix_socket_is_private(cofferd, tmp_path):
    path = tmp_path / "admin.sock"
    inst = cofferd(settings={"server": {"admin_listen": f"unix:{path}"}})
    assert inst.get("/healthz").status_code == 200
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)


def config_with_admin(tmp_path, admin, token=False):
    settings = {
        "server": {"listen": "127.0.0.1:18080", "admin_listen": admin,
                   "runtime_dir": str(tmp_path / "run")},
        "database": {"sqlite_path": str(tmp_path / "coffer.db")},
        "catalog": {"path": os.path.join(srcdir(), "data", "item-catalog.json")},
    }
    if token:
        (tmp_path / "ops.token").write_text("s3cret\n")
        settings["ops"] = {"token_file": str(tmp_path / "ops.token")}
    path = tmp_path / "c.conf"
    path.write_text(render_config(settings))
    return path


@pytest.mark.parametrize("admin", ["0.0.0.0:18081", "10.1.2.3:18081", "[::]:18081"])
def test_reachable_admin_listener_needs_a_token(tmp_path, admin):
    path = config_with_admin(tmp_path, admin)
    out = subprocess.run([cofferd_bin(), "-t", "-c", str(path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 1, out.stderr
    lineno = path.read_text().splitlines().index(f"admin_listen = {admin}") + 1
    assert out.stderr.startswith(f"{path}:{lineno}: "), out.stderr
    assert "token_file" in out.stderr
    path = config_with_admin(tmp_path, admin, token=True)
    out = subprocess.run([cofferd_bin(), "-t", "-c", str(path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("admin", ["127.0.0.1:18081", "localhost:18081", "[::1]:18081",
                                   "unix:/tmp/coffer-admin.sock"])
def test_loopback_admin_listener_needs_no_token(tmp_path, admin):
    path = config_with_admin(tmp_path, admin)
    out = subprocess.run([cofferd_bin(), "-t", "-c", str(path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr


# ---- the processes ----

def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().rstrip(b"\0").decode()


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def test_process_titles(cofferd):
    inst = cofferd(settings={"server": {"workers": 2}})
    wait_until(lambda: len(inst.child_pids()) == 3, 5, "a broker and 2 workers")
    assert cmdline(inst.pid) == "cofferd: master"
    assert comm(inst.pid) == "cofferd: master"
    assert cmdline(inst.broker_pid()) == "cofferd: broker"
    titles = sorted(cmdline(p) for p in inst.worker_pids())
    assert titles == ["cofferd: worker 1", "cofferd: worker 2"]
    ps = subprocess.run(["ps", "-o", "args=", "-p", str(inst.broker_pid())],
                        capture_output=True, text=True).stdout.strip()
    assert ps == "cofferd: broker"


# ---- the access log ----

def test_access_log_lines(srv):
    mark = srv.log_mark()
    srv.get("/healthz")
    srv.get("/join/ABCDEFGHJKLM", params={"next": "secret-query"})
    srv.get("/nothing%0ahere")
    a = Account(srv, "log" + os.urandom(4).hex(), "Log")
    a.web.get(srv.url + "/api/v1/me", timeout=5)
    srv.wait_log(r"GET /api/v1/me 200", since=mark)
    log = srv.log()[mark:]
    assert re.search(r"\[\d+ worker\.\d\] info: GET /healthz 200 15 [\d.]+ms", log), log
    assert "GET /join/{code} 200" in log
    assert "ABCDEFGHJKLM" not in log and "secret-query" not in log
    # The decoded newline is escaped, so it cannot forge a line.
    assert "GET /nothing\\nhere 404" in log
    # No credential ever reaches the log.
    assert a.token not in log
    assert a.web.cookies.get("coffer_session") not in log
    assert "code=" not in log and "state=" not in log


def test_access_log_off(cofferd):
    inst = cofferd(settings={"server": {"access_log": "off"}})
    for _ in range(3):
        assert inst.get("/healthz").status_code == 200
    # Once the processes have exited, every line they wrote is in the file.
    assert inst.stop(signal.SIGTERM) == 0
    wait_until(lambda: not inst.survivors(), STOP_TIMEOUT, "every child to exit")
    assert "GET /healthz" not in inst.log()


# ---- stopping ----

def test_stop_does_not_wait_for_clients_that_went_away(cofferd):
    """Clients that hang up before their answer leave nothing in flight:
    a stop then takes moments, not shutdown_timeout."""
    inst = cofferd(settings={"server": {"workers": 1, "shutdown_timeout": "20s"}})
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", inst.admin_port), timeout=5) as s:
            s.sendall(b"POST /internal/dev/sleep?ms=300 HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 0\r\n\r\n")
    # Each coroutine ends after its sleep and answers nobody.
    wait_until(lambda: metric_value(inst.metrics(), "coffer_coroutines") == 1, 10,
               "the abandoned requests to finish")
    mark = inst.log_mark()
    started = time.monotonic()
    assert inst.stop(signal.SIGTERM) == 0
    took = time.monotonic() - started
    assert took < 5, f"the stop took {took:.1f} s"
    assert "still running" not in inst.log()[mark:]
    wait_until(lambda: not inst.survivors(), STOP_TIMEOUT, "every child to exit")


# ---- readiness ----

def test_not_ready_until_the_startup_tasks_are_done(cofferd, engine, tmp_path):
    """The default catalog comes through a FIFO, so the start-up tasks wait
    for the test: meanwhile /readyz says "starting" and systemd hears no
    READY; once the catalog is in, both say ready and the prices are there."""
    fifo = tmp_path / "catalog.json"
    os.mkfifo(fifo)
    inst = cofferd(engine, {"catalog": {"path": str(fifo)}}, wait=False)

    def starting():
        inst.check_running()
        try:
            r = inst.get("/readyz", timeout=0.5)
        except Exception:
            return False            # worker 1 is the one waiting on the FIFO
        assert r.status_code == 503, r.text
        assert_error(r, 503, "unavailable")
        assert "starting" in r.json()["error"]["message"]
        assert r.headers.get("Retry-After")
        return True
    wait_until(starting, 30, "/readyz to answer starting")
    assert "ready:" not in inst.log()

    catalog = {"version": "fifo-1", "items": [
        {"id": 4151, "name": "Abyssal whip", "members": True, "tradeable": True,
         "stackable": False, "highalch": 72000, "price": 1500000}]}
    with open(fifo, "w") as f:
        f.write(json.dumps(catalog))
    inst.wait_ready()
    wait_until(lambda: inst.get("/readyz", timeout=5).status_code == 200, 10,
               "/readyz to say ready")
    log = inst.log()
    assert log.index("catalog: loaded default catalog") < log.index("ready:")


def test_error_message_never_ends_inside_a_character(srv):
    """Messages quote a client's text cut to a length: a cut through a
    multi-byte character must not cost the answer its JSON body."""
    p = Player(srv, "cut" + os.urandom(4).hex())
    for key in ("x" + "é" * 40, "é" * 100, "€" * 30 + "x"):
        r = p.post("/api/v1/groups", {"name": "G", "characters": [], key: 1})
        assert_error(r, 422, "invalid", key)
