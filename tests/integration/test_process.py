"""The command line and the process tree: config checks, start and stop,
crashes and respawns, reloads, and the death of the master."""
import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from helpers import (STOP_TIMEOUT, cofferd_bin, connection_refused,
                     insert_after_header, metric_value, render_config, srcdir,
                     wait_until)


def run(*args):
    return subprocess.run([cofferd_bin(), *args], capture_output=True, text=True,
                          timeout=30)


def healthy(inst, admin=False):
    try:
        return inst.get("/healthz", admin=admin).status_code == 200
    except requests.RequestException:
        return False


# ---- the command line ----

def check_config_text(tmp_path):
    """A valid config (what the cofferd fixture writes, minus PostgreSQL)."""
    return render_config({
        "server": {
            "listen": "127.0.0.1:18080",
            "admin_listen": "127.0.0.1:18081",
            "workers": 2,
            "environment": "development",
            "runtime_dir": str(tmp_path / "run"),
            "log_level": "info",
            "shutdown_timeout": "5s",
        },
        "database": {
            "engine": "sqlite",
            "sqlite_path": str(tmp_path / "coffer.db"),
            "pool_min": 1,
            "pool_max": 4,
        },
        "catalog": {"path": os.path.join(srcdir(), "data", "item-catalog.json")},
    })


def test_check_good_config(tmp_path):
    path = tmp_path / "good.conf"
    path.write_text(check_config_text(tmp_path))
    out = run("-t", "-c", str(path))
    assert out.returncode == 0, out.stderr
    assert f"configuration file {path} is valid" in out.stderr


@pytest.mark.parametrize("name", ["cofferd.conf", "cofferd.dev.conf"])
def test_check_shipped_configs(name):
    path = os.path.join(srcdir(), "etc", name)
    out = run("-t", "-c", path)
    assert out.returncode == 0, out.stderr
    assert "is valid" in out.stderr


@pytest.mark.parametrize("section, line, words", [
    ("server", "colour = blue", ["unknown key", "colour"]),
    ("server", "workers = lots", ["workers"]),
    ("server", "shutdown_timeout = 5 fortnights", ["shutdown_timeout"]),
    ("database", "engine = oracle", ["engine"]),
    ("database", "[nosuchsection]", ["unknown section", "nosuchsection"]),
    ("catalog", "no equals sign here", []),
], ids=["unknown-key", "bad-count", "bad-duration", "bad-enum", "unknown-section",
        "no-equals"])
def test_check_bad_config(tmp_path, section, line, words):
    text, lineno = insert_after_header(check_config_text(tmp_path), section, line)
    path = tmp_path / "bad.conf"
    path.write_text(text)
    out = run("-t", "-c", str(path))
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith(f"{path}:{lineno}: "), out.stderr
    for word in words:
        assert word in out.stderr
    assert out.stdout == ""


def test_check_missing_file(tmp_path):
    path = tmp_path / "absent.conf"
    out = run("-t", "-c", str(path))
    assert out.returncode == 1
    assert str(path) in out.stderr


def test_version():
    out = run("-V")
    assert out.returncode == 0
    assert re.fullmatch(r"cofferd \d+\.\d+\.\d+\S*\n", out.stdout), out.stdout
    with open(os.path.join(srcdir(), "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[coffer\],\s*\[([^\]]+)\]", f.read())
    if m:
        assert out.stdout == f"cofferd {m.group(1)}\n"


def test_help():
    out = run("-h")
    assert out.returncode == 0
    assert "usage: cofferd" in out.stdout


@pytest.mark.parametrize("args", [["-Z"], ["-c"], ["extra-argument"]],
                         ids=["unknown-option", "missing-argument", "operand"])
def test_usage_errors(args):
    out = run(*args)
    assert out.returncode == 2
    assert "usage" in out.stderr
    assert out.stdout == ""


# ---- start and stop ----

def test_start_and_graceful_stop(cofferd, engine):
    inst = cofferd(engine)
    assert inst.get("/healthz").json() == {"status": "ok"}
    assert inst.wait_log(r"ready: broker and 2 workers? up")
    wait_until(lambda: len(inst.child_pids()) == 3, 5, "a broker and 2 workers")

    assert inst.stop(signal.SIGTERM) == 0
    wait_until(lambda: not inst.survivors(), STOP_TIMEOUT, "every child to exit")
    assert connection_refused(inst.port)
    assert connection_refused(inst.admin_port)


def test_sigint_stops_too(cofferd):
    inst = cofferd()
    wait_until(lambda: len(inst.child_pids()) == 3, 5, "a broker and 2 workers")
    assert inst.stop(signal.SIGINT) == 0
    wait_until(lambda: not inst.survivors(), STOP_TIMEOUT, "every child to exit")


def test_in_flight_request_survives_stop(cofferd):
    # One worker, so /metrics reports the coroutines of the worker that
    # runs the slow request: that is how we know it is in flight.
    inst = cofferd(settings={"server": {"workers": 1}})
    result = {}

    def slow_request():
        try:
            r = inst.post("/internal/dev/sleep?ms=1500", admin=True, timeout=15)
            result["status"], result["body"] = r.status_code, r.json()
        except requests.RequestException as e:
            result["error"] = repr(e)
        result["done_at"] = time.monotonic()

    t = threading.Thread(target=slow_request)
    t.start()
    try:
        wait_until(lambda: metric_value(inst.metrics(), "coffer_coroutines") >= 2, 5,
                   "the slow request to be in flight")
        inst.kill(signal.SIGTERM)
        wait_until(lambda: connection_refused(inst.port), 5, "new connections refused")
        refused_at = time.monotonic()
        assert connection_refused(inst.admin_port)
    finally:
        t.join(timeout=20)
    assert result.get("status") == 200, result
    assert result["body"] == {"slept_ms": 1500}
    assert refused_at < result["done_at"], "the listeners closed only after the request ended"
    assert inst.proc.wait(timeout=STOP_TIMEOUT) == 0
    wait_until(lambda: not inst.survivors(), STOP_TIMEOUT, "every child to exit")


# ---- children that die ----

def test_killed_worker_is_respawned(cofferd):
    inst = cofferd()
    workers = wait_until(lambda: inst.worker_pids(), 5, "the worker pids")
    assert len(workers) == 2
    restarts = metric_value(inst.metrics(), "coffer_worker_restarts_total")
    victim = workers[0]

    os.kill(victim, signal.SIGKILL)
    inst.wait_log(rf"worker\.\d+ \(pid {victim}\) killed by signal 9\b")

    def replaced():
        now = inst.worker_pids()
        return now and len(now) == 2 and victim not in now
    wait_until(replaced, 10, "a new worker")
    for _ in range(10):
        assert wait_until(lambda: healthy(inst), 5, "/healthz")
    wait_until(lambda: metric_value(inst.metrics(), "coffer_worker_restarts_total")
               >= restarts + 1, 5, "coffer_worker_restarts_total to rise")


def test_killed_broker_is_respawned(cofferd, engine):
    inst = cofferd(engine)
    broker = wait_until(inst.broker_pid, 5, "the broker pid")

    os.kill(broker, signal.SIGKILL)
    inst.wait_log(rf"broker \(pid {broker}\) killed by signal 9\b")
    wait_until(lambda: inst.broker_pid() not in (None, broker), 10, "a new broker")

    def ready():
        try:
            r = inst.get("/readyz")
        except requests.RequestException:
            return False
        return r.status_code == 200 and r.json()["engine"] == engine
    wait_until(ready, 15, "/readyz to answer 200 again")

    # Both workers must find the new broker; each connection lands on
    # either, so a run of successes covers both in practice.
    def pool_ok():
        try:
            return all(inst.get("/api/v1/ops/pool", admin=True).status_code == 200
                       for _ in range(6))
        except requests.RequestException:
            return False
    wait_until(pool_ok, 15, "the workers to reach the new broker")
    assert healthy(inst)


def test_killed_master_takes_children_along(cofferd, engine):
    inst = cofferd(engine)
    children = wait_until(lambda: len(inst.child_pids()) == 3 and inst.child_pids(), 5,
                          "a broker and 2 workers")
    inst.proc.kill()
    inst.proc.wait(timeout=5)
    # PR_SET_PDEATHSIG sends them SIGTERM; they stop on their own.
    wait_until(lambda: not inst.survivors(), STOP_TIMEOUT, f"children {children} to exit")


# ---- reload ----

def test_reload_applies_log_level(cofferd):
    inst = cofferd()
    old_workers = wait_until(lambda: inst.worker_pids(), 5, "the worker pids")
    assert not re.search(r"\] debug: ", inst.log())

    inst.write_config({"server": {"log_level": "debug"}})
    mark = inst.log_mark()
    inst.reload()
    inst.wait_log(r"reload complete", since=mark)

    def replaced():
        now = inst.worker_pids()
        return now and len(now) == 2 and not set(now) & set(old_workers) and now
    new_workers = wait_until(replaced, 10, "the workers to be replaced")
    wait_until(lambda: not any(p in inst.survivors() for p in old_workers), STOP_TIMEOUT,
               "the old workers to exit")

    def worker_debug_line():
        assert healthy(inst)
        for m in re.finditer(r"\[(\d+) worker\.\d+\] debug: ", inst.log()[mark:]):
            if int(m.group(1)) in new_workers:
                return True
        return False
    wait_until(worker_debug_line, 10, "a debug line from a new worker")


def test_reload_with_broken_file_keeps_serving(cofferd):
    inst = cofferd()
    workers = wait_until(lambda: inst.worker_pids(), 5, "the worker pids")
    with open(inst.config_path) as f:
        text, lineno = insert_after_header(f.read(), "server", "bogus = 1")
    with open(inst.config_path, "w") as f:
        f.write(text)

    mark = inst.log_mark()
    inst.reload()
    line = inst.wait_log(r"^.*reload failed.*$", since=mark).group(0)
    assert f"{inst.config_path}:{lineno}:" in line
    assert "bogus" in line

    for _ in range(10):
        assert healthy(inst)
        assert healthy(inst, admin=True)
    assert inst.worker_pids() == workers, "workers must not be replaced by a failed reload"
