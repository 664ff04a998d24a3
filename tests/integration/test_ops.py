"""Operator-facing behaviour: documented settings, man pages, log reopening,
the systemd notify protocol, and surviving a PostgreSQL restart."""

import os
import re
import signal
import socket
import shutil
import subprocess
import tempfile

import pytest

from client import assert_error
from helpers import srcdir, wait_until


def config_table():
    """(section, key) of every setting in src/config.c's table."""
    with open(os.path.join(srcdir(), "src", "config.c")) as f:
        text = f.read()
    table = text[text.index("static const struct setting settings[]"):]
    table = table[:table.index("};")]
    return re.findall(r'\{ "(\w+)", "(\w+)",', table)


def test_every_setting_is_documented():
    settings = config_table()
    assert len(settings) > 30
    with open(os.path.join(srcdir(), "etc", "cofferd.conf")) as f:
        sample = f.read()
    with open(os.path.join(srcdir(), "man", "cofferd.conf.5")) as f:
        man = f.read().replace("\\-", "-").replace("\\%", "")
    missing = []
    for section, key in settings:
        # the sample: under its [section] header, "#key =" or "key ="
        part = sample[sample.index(f"[{section}]"):] if f"[{section}]" in sample else ""
        if not re.search(rf"^[#;]?\s*{key}\s*=", part, re.M):
            missing.append(f"etc/cofferd.conf: [{section}] {key}")
        if not re.search(rf"\b{key}\b", man):
            missing.append(f"man/cofferd.conf.5: {key}")
    assert not missing, missing


@pytest.mark.parametrize("page", ["cofferd.8", "cofferd.conf.5"])
def test_man_pages_render_cleanly(page):
    out = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(srcdir(), "man", page)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert out.stdout + out.stderr == ""


def test_usr1_reopens_the_log_file(cofferd, tmp_path):
    log = tmp_path / "cofferd.log"
    inst = cofferd(settings={"server": {"log_file": str(log)}}, wait=False)

    def up():
        inst.check_running()
        return log.exists() and "ready:" in log.read_text()
    wait_until(up, 20, "ready: in the log file")
    rotated = tmp_path / "cofferd.log.1"
    os.rename(log, rotated)
    inst.kill(signal.SIGUSR1)
    wait_until(lambda: log.exists() and "reopening the log file" in rotated.read_text(), 10,
               "the log to be reopened")
    inst.reload()   # something to log after the reopen
    wait_until(lambda: "reload complete" in log.read_text(), 20, "new lines in the new file")
    assert "reload complete" not in rotated.read_text()


def test_systemd_notify_protocol(cofferd, tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    inst = cofferd()

    def next_message():
        return sock.recv(4096).decode()

    def expect(field):
        while True:
            msg = next_message()
            if field in msg.split("\n"):
                return msg
    expect("READY=1")
    assert inst.get("/healthz").status_code == 200
    inst.reload()
    reloading = expect("RELOADING=1")
    assert re.search(r"^MONOTONIC_USEC=\d+$", reloading, re.M)
    expect("READY=1")
    inst.kill(signal.SIGTERM)
    expect("STOPPING=1")
    assert inst.proc.wait(timeout=15) == 0
    sock.close()


def test_postgres_restart_is_survived(cofferd):
    """The broker notices a restarted server, rebuilds its pool and the
    service resumes with no help."""
    pgtmp = os.path.join(srcdir(), "tests", "pgtmp.sh")
    top = tempfile.mkdtemp(prefix="coffer-pg-restart.")   # o+x parents for postgres
    os.chmod(top, 0o755)
    pgdir = os.path.join(top, "pg")
    dsn = subprocess.run([pgtmp, "start", str(pgdir)], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    try:
        # A short pool_timeout: while the server is down, statements wait
        # that long for a connection before failing.
        inst = cofferd(engine="postgres", settings={"database": {
            "postgres_dsn": dsn, "pool_timeout": "1s"}})
        assert inst.get("/readyz").status_code == 200
        subprocess.run([pgtmp, "stop", str(pgdir)], check=True, timeout=60)
        wait_until(lambda: inst.get("/readyz").status_code == 503, 10,
                   "readyz to fail while PostgreSQL is down")
        subprocess.run([pgtmp, "restart", str(pgdir)], check=True, timeout=120)
        wait_until(lambda: inst.get("/readyz").status_code == 200, 15,
                   "readyz to recover after PostgreSQL is back")
        assert inst.get("/healthz").status_code == 200
    finally:
        subprocess.run([pgtmp, "stop", str(pgdir)], timeout=60)
        shutil.rmtree(top, ignore_errors=True)


def test_request_timeout_answers_503(cofferd, engine):
    """A request that has run past request_timeout fails its next database
    call and answers 503 with Retry-After; a quick one is unaffected."""
    inst = cofferd(engine=engine, settings={"server": {"request_timeout": "1s"}})
    slow = inst.post("/internal/dev/sleep?ms=1300", admin=True)
    assert_error(slow, 503, "unavailable")
    assert slow.headers.get("Retry-After")
    quick = inst.post("/internal/dev/sleep?ms=10", admin=True)
    assert quick.status_code == 200 and quick.json() == {"slept_ms": 10}


def test_crash_loop_backs_off(cofferd, tmp_path):
    """A worker that cannot start is restarted with growing delays and the
    crash loop is reported, not spun."""
    inst = cofferd(settings={"server": {"workers": 1}})
    db = inst.settings["database"]["sqlite_path"]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.rename(db + suffix, str(tmp_path / ("moved" + suffix)))
    os.mkdir(db)            # SQLite cannot open a directory: every start fails
    mark = inst.log_mark()
    worker = inst.worker_pids()[0]
    os.kill(worker, signal.SIGKILL)
    inst.wait_log(r"worker\.1 is crash-looping", timeout=20, since=mark)
    stamps = re.findall(r"^(\d\d):(\d\d):(\d\d)\.(\d{3})Z \[\d+ master\] error: worker\.1 "
                        r"\(pid \d+\) exited with status 1",
                        "\n".join(line[11:] for line in inst.log()[mark:].splitlines()), re.M)
    times = [int(h) * 3600000 + int(m) * 60000 + int(s) * 1000 + int(ms)
             for h, m, s, ms in stamps]
    assert len(times) >= 4
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[-1] > gaps[0], gaps     # the delay grows
    os.rmdir(db)            # repaired: the next restart succeeds
    wait_until(lambda: inst.worker_pids(), 40, "the worker to come back")


def test_ops_token_guards_the_admin_listener(cofferd, tmp_path):
    token_file = tmp_path / "ops.token"
    token_file.write_text("s3cret-ops-token\n")
    inst = cofferd(settings={"ops": {"token_file": str(token_file)}})
    assert inst.get("/metrics", admin=True).status_code == 401
    bad = inst.get("/metrics", admin=True, headers={"Authorization": "Bearer nope"})
    assert_error(bad, 401, "unauthorized")
    good = inst.get("/metrics", admin=True,
                    headers={"Authorization": "Bearer s3cret-ops-token"})
    assert good.status_code == 200 and "coffer_http_requests_total" in good.text
    # health checks stay open, and the main listener never asks for it
    assert inst.get("/healthz", admin=True).status_code == 200
    assert inst.get("/readyz", admin=True).status_code == 200
    assert inst.get("/healthz").status_code == 200


def test_worker_killed_mid_transaction(cofferd):
    """A worker that dies holding a transaction lease: nothing of the
    transaction is committed, the lease is freed and the pool serves again."""
    import threading

    import requests

    from helpers import psql

    inst = cofferd(engine="postgres", settings={"server": {"workers": 1},
                                                "database": {"pool_max": 2}})

    def pool():
        return inst.get("/api/v1/ops/pool", admin=True).json()["pool"]

    def doomed():
        try:
            inst.post("/internal/dev/sleep?ms=30000&hold=doomed", admin=True, timeout=40)
        except requests.RequestException:
            pass                        # the worker dies under it
    t = threading.Thread(target=doomed)
    t.start()
    wait_until(lambda: pool()["leased"] == 1, 10, "the transaction to hold its lease")
    worker = inst.worker_pids()[0]
    os.kill(worker, signal.SIGKILL)
    t.join(15)
    assert not t.is_alive()

    def recovered():
        try:
            return inst.get("/readyz").status_code == 200 and pool()["leased"] == 0
        except requests.RequestException:
            return False
    wait_until(recovered, 15, "a new worker and a freed lease")
    assert psql(inst.dsn, "SELECT count(*) FROM app_meta WHERE key = 'doomed'") == "0"
    assert pool()["size"] <= 2
    # the pool serves transactions again, and their work is committed
    ok = inst.post("/internal/dev/sleep?ms=10&hold=survivor", admin=True)
    assert ok.status_code == 200, ok.text
    assert psql(inst.dsn, "SELECT count(*) FROM app_meta WHERE key = 'survivor'") == "1"


def test_hold_is_postgres_only(cofferd):
    inst = cofferd()
    r = inst.post("/internal/dev/sleep?ms=10&hold=x", admin=True)
    assert_error(r, 422, "invalid")


def test_idle_processes_make_no_wakeups(cofferd, engine):
    """Idle, every process sits in epoll_wait: no timers, no polling."""
    if shutil.which("strace") is None:
        pytest.fail("strace is needed (build-aux/install-deps.sh --test installs it)")
    inst = cofferd(engine=engine)
    inst.wait_log(r"catalog: loaded default catalog", timeout=60)
    assert inst.get("/readyz", headers={"Connection": "close"}).status_code == 200

    def open_connections():
        """Client connections to either listener not yet fully closed: their
        end would be a (legitimate) read and close in a worker."""
        ports = {f"{inst.port:04X}", f"{inst.admin_port:04X}"}
        busy = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    local, state = fields[1].split(":")[1], fields[3]
                    if local in ports and state in ("01", "08"):   # ESTABLISHED, CLOSE_WAIT
                        busy += 1
        return busy == 0
    wait_until(open_connections, 10, "the test's own connections to close")
    pids = [inst.pid] + inst.child_pids()
    assert len(pids) == 4                       # master, broker, 2 workers
    traces = [subprocess.Popen(["timeout", "-s", "INT", "2", "strace", "-p", str(pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
              for pid in pids]
    busy = {}
    for pid, t in zip(pids, traces):
        _, err = t.communicate(timeout=15)
        # A completed system call ends in "= <result>"; the epoll_wait the
        # process sleeps in is still unfinished when strace detaches.
        calls = [line for line in err.splitlines() if re.search(r"\)\s+= ", line)]
        if calls:
            busy[pid] = calls[:5]
    assert not busy, busy
