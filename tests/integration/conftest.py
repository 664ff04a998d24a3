"""Fixtures for the integration suite: the real cofferd, on both engines.

The suite is run by tests/run-integration, which exports COFFER_BIN (the
binary under test) and COFFER_SRCDIR (the source tree); tests/with-pg adds
COFFER_TEST_PG_DSN, a throw-away PostgreSQL server.

Fixtures:
  engine    "sqlite" or "postgres"; every test that touches the database
            takes it, so it runs once per engine.  Without
            COFFER_TEST_PG_DSN the postgres cases fail: CI always provides
            one, so a missing server is a broken set-up, not a skip.
  cofferd   a factory: cofferd(engine="sqlite", settings=None) writes a
            config file (the defaults below, updated with settings:
            section -> key -> value), starts `COFFER_BIN -c FILE` and returns
            a Cofferd once /healthz answers and the master logged "ready:".
  server    one running cofferd per engine, shared by the tests of a module
            that only read from it (keeps the suite fast).

Each instance gets its own directory (config, log, runtime dir, SQLite
file) and, on PostgreSQL, its own database, dropped afterwards.  While an
instance runs, a thread records every child of its master (pid and start
time, from /proc); at teardown the master gets SIGTERM and must exit in
time, and every child ever seen must be gone, or the test fails.  The
children are killed in that case so nothing outlives the suite.

When COFFER_TEST_TOTALS is set, the summary appends one line
"integration PASSED FAILED" to that file (errors count as failures,
skips are not counted).
"""
import os
import re
import shutil
import signal
import subprocess
import threading
import uuid

import pytest
import requests

from helpers import (STOP_TIMEOUT, children_of, cofferd_bin, dsn_with_dbname,
                     free_ports, holds_socket, merge_settings, pg_dsn,
                     process_alive, psql, render_config, srcdir,
                     unix_socket_inodes, wait_until)

START_TIMEOUT = 20      # seconds for a start to be ready
HTTP_TIMEOUT = 5


def command(*args):
    """The command line that runs cofferd with args.

    Under setpriv --pdeathsig (util-linux), the master gets SIGTERM if
    pytest itself is killed, and its children follow through their own
    PR_SET_PDEATHSIG: an aborted run leaves no daemon holding ports.
    setpriv execs, so the pid is cofferd's.
    """
    cmd = [cofferd_bin(), *args]
    if shutil.which("setpriv"):
        cmd = ["setpriv", "--pdeathsig", "TERM", "--"] + cmd
    return cmd


class Cofferd:
    """One cofferd: its files, its process and ways to look at both."""

    def __init__(self, workdir, engine, settings, ports):
        self.dir = workdir
        self.engine = engine
        self.config_path = str(workdir / "cofferd.conf")
        self.log_path = str(workdir / "cofferd.log")
        self.runtime_dir = str(workdir / "run")
        self.port, self.admin_port = ports
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.dbname = None
        self.proc = None
        self.seen = {}          # pid -> start time of every child ever seen
        self._seen_lock = threading.Lock()
        self._stop_watch = threading.Event()
        self._watcher = None

        base = {
            "server": {
                "listen": f"127.0.0.1:{self.port}",
                "admin_listen": f"127.0.0.1:{self.admin_port}",
                "workers": 2,
                "environment": "development",
                "runtime_dir": self.runtime_dir,
                "log_level": "info",
                "shutdown_timeout": "5s",
            },
            "database": {
                "engine": engine,
                "sqlite_path": str(workdir / "coffer.db"),
                "pool_min": 1,
                "pool_max": 4,
            },
            "catalog": {"path": os.path.join(srcdir(), "data", "item-catalog.json")},
            # The suite's own pace would trip the default request rates;
            # test_limits.py turns them on where it tests them.
            "limits": {"token_rate": 0, "session_rate": 0, "address_rate": 0},
            # Webhook receivers in the tests listen on loopback.
            "webhooks": {"allow_private": "on"},
        }
        if engine == "postgres":
            self.dbname = "coffer_t_" + uuid.uuid4().hex[:12]
            self.dsn = dsn_with_dbname(pg_dsn(), self.dbname)
            base["database"]["postgres_dsn"] = self.dsn
        self.settings = merge_settings(base, settings)

    # ---- files ----

    def write_config(self, overrides=None):
        """(Re)write the config file, updated with overrides."""
        self.settings = merge_settings(self.settings, overrides)
        with open(self.config_path, "w") as f:
            f.write(render_config(self.settings))

    def log(self):
        """Everything the daemon logged so far."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """A position in the log; pass it as since= to look only after it."""
        return len(self.log())

    def wait_log(self, regex, timeout=10, since=0):
        """The first match of regex (multi-line) in the log after since."""
        pattern = re.compile(regex, re.M)

        def found():
            self.check_running()
            return pattern.search(self.log(), since)
        return wait_until(found, timeout, f"log line /{regex}/")

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    # ---- the process ----

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        if self.dbname:
            psql(pg_dsn(), f"CREATE DATABASE {self.dbname}")
        self.write_config()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command("-c", self.config_path),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._watcher = threading.Thread(target=self._watch_children, daemon=True)
        self._watcher.start()

    def check_running(self):
        """Fail at once, with the log, if the master has exited."""
        rc = self.proc.poll()
        if rc is not None:
            raise AssertionError(f"cofferd exited with status {rc}; log:\n{self.log_tail()}")

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            self.check_running()
            try:
                ok = requests.get(self.url + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False
            return ok and "ready:" in self.log()
        try:
            wait_until(ready, timeout, "cofferd to be ready")
        except AssertionError as e:
            raise AssertionError(f"{e}; log:\n{self.log_tail()}") from None

    def _watch_children(self):
        while not self._stop_watch.wait(0.05):
            self.child_pids()

    def child_pids(self):
        """The live children of the master, sorted; also remembered."""
        found = children_of(self.pid)
        with self._seen_lock:
            self.seen.update(found)
        return sorted(found)

    def broker_pid(self):
        """The child that holds runtime_dir/broker.sock, or None."""
        inodes = unix_socket_inodes(os.path.join(self.runtime_dir, "broker.sock"))
        for pid in self.child_pids():
            if inodes and holds_socket(pid, inodes):
                return pid
        return None

    def worker_pids(self):
        """The children that are not the broker (None while no broker runs)."""
        broker = self.broker_pid()
        if broker is None:
            return None
        return [pid for pid in self.child_pids() if pid != broker]

    def kill(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        """SIGHUP: re-read the config, replace the workers."""
        self.kill(signal.SIGHUP)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send sig and wait for the master; returns its exit status.
        Raises subprocess.TimeoutExpired if it does not exit in time."""
        self.child_pids()
        self.kill(sig)
        return self.proc.wait(timeout=timeout)

    def survivors(self):
        """Children ever seen that still run."""
        with self._seen_lock:
            seen = dict(self.seen)
        return [pid for pid, start in seen.items() if process_alive(pid, start)]

    def shutdown(self):
        """Teardown: stop the daemon if it still runs and check that nothing
        is left.  Returns a list of problems (empty when all is well)."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            try:
                rc = self.stop()
                if rc != 0:
                    problems.append(f"cofferd exited with status {rc} on SIGTERM")
            except subprocess.TimeoutExpired:
                problems.append(f"cofferd did not exit within {STOP_TIMEOUT} s of SIGTERM")
                self.proc.kill()
                self.proc.wait()
        self._stop_watch.set()
        self._watcher.join()
        # A sanitizer build reports memory errors in the log; a worker that
        # died of one may have been respawned and hidden it from the test.
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if marker in self.log():
                problems.append(f"the log has a sanitizer report ({marker})")
        try:
            wait_until(lambda: not self.survivors(), STOP_TIMEOUT, "the children to exit")
        except AssertionError:
            left = self.survivors()
            problems.append(f"children of cofferd still running after it exited: {left}")
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return problems

    def drop_database(self):
        if self.dbname:
            psql(pg_dsn(), f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")

    # ---- HTTP ----

    def get(self, path, admin=False, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.get((self.admin_url if admin else self.url) + path, **kw)

    def post(self, path, admin=False, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.post((self.admin_url if admin else self.url) + path, **kw)

    def metrics(self):
        r = self.get("/metrics", admin=True)
        assert r.status_code == 200, r.text
        return r.text


class Launcher:
    """Starts instances in directories from tmp_factory; cleans them all up."""

    def __init__(self, tmp_factory):
        self.tmp_factory = tmp_factory
        self.instances = []

    def start(self, engine="sqlite", settings=None, wait=True):
        inst = Cofferd(self.tmp_factory.mktemp("c"), engine, settings, free_ports(2))
        self.instances.append(inst)
        inst.start()
        if wait:
            inst.wait_ready()
        return inst

    def close(self, show_logs=False):
        problems = []
        for inst in self.instances:
            try:
                problems += inst.shutdown()
            finally:
                inst.drop_database()
            if show_logs or problems:
                print(f"--- {inst.log_path} (last lines) ---\n{inst.log_tail(60)}")
        if problems:
            pytest.fail("\n".join(problems))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine(request):
    if request.param == "postgres":
        pg_dsn()
    return request.param


@pytest.fixture
def cofferd(request, tmp_path_factory):
    launcher = Launcher(tmp_path_factory)
    yield launcher.start
    failed = getattr(request.node, "rep_call", None)
    launcher.close(show_logs=failed is not None and failed.failed)


@pytest.fixture(scope="module")
def server(request, engine, tmp_path_factory):
    launcher = Launcher(tmp_path_factory)
    # Registered first, so a start that fails still gets cleaned up.
    request.addfinalizer(launcher.close)
    return launcher.start(engine)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell at
    teardown whether the test failed (and show the daemon's log)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_terminal_summary(terminalreporter):
    path = os.environ.get("COFFER_TEST_TOTALS")
    if not path:
        return
    stats = terminalreporter.stats
    failed = {r.nodeid for key in ("failed", "error") for r in stats.get(key, [])}
    passed = {r.nodeid for r in stats.get("passed", [])} - failed
    with open(path, "a") as f:
        f.write(f"integration {len(passed)} {len(failed)}\n")
