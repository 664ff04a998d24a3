"""The fault suite's pytest plugin (tests/fault/run loads it with -p):
settings, the servers under test, the figures table and the totals.

The suite builds on the integration harness (tests/integration, on the
path): conftest.Launcher starts and checks cofferd, client.Account logs a
plugin in through the mock provider.  Its own conftest.py would clash
with the harness's module of that name, hence a plugin.

Settings, from the environment (the short form's defaults; the full
form, bench/run-fault.sh, raises them):

  COFFER_FAULT_CLIENTS    sync clients, each its own account        50
  COFFER_FAULT_SECONDS    load per fault, at least                  5
  COFFER_FAULT_PRE        load before the fault strikes             1
  COFFER_FAULT_SETTLE     load after a bounded fault ends, at least 2
  COFFER_FAULT_PG_DOWN    seconds PostgreSQL stays stopped          3
  COFFER_FAULT_HOLD       seconds every pool connection is held     6
  COFFER_FAULT_SLOWLORIS  slowloris connections                     200
  COFFER_FAULT_RECOVERY   deadline for answering everybody again    30
  COFFER_FAULT_TABLE      a file to write the figures table to

Servers: one cofferd per engine for the whole suite (session scope,
so the accounts are made once); each run links fresh characters.  On
PostgreSQL it runs against the suite's own server (pgserver.PgServer),
which the PostgreSQL faults kill and stop; the harness's server is not
touched.

When COFFER_TEST_TOTALS is set, the summary appends one line
"fault PASSED FAILED" to that file, like the integration suite.
"""
import ctypes
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from client import MOCK_AUTH, Account
from conftest import Launcher
from faults import TABLE_HEAD
from helpers import merge_settings
from pgserver import PgServer

PR_SET_CHILD_SUBREAPER = 36

# The servers under test: the harness's defaults, plus these.
SETTINGS = merge_settings(MOCK_AUTH, {
    "server": {"workers": 2, "environment": "development"},
    "database": {"pool_min": 2, "pool_max": 8},
    "limits": {"token_rate": 0, "session_rate": 0, "address_rate": 0},
})


class Config:
    def __init__(self):
        env = os.environ.get
        self.clients = int(env("COFFER_FAULT_CLIENTS", "50"))
        self.seconds = float(env("COFFER_FAULT_SECONDS", "5"))
        self.pre = float(env("COFFER_FAULT_PRE", "1"))
        self.settle = float(env("COFFER_FAULT_SETTLE", "2"))
        self.pg_down = float(env("COFFER_FAULT_PG_DOWN", "3"))
        self.hold = float(env("COFFER_FAULT_HOLD", "6"))
        self.slowloris = int(env("COFFER_FAULT_SLOWLORIS", "200"))
        self.recovery = float(env("COFFER_FAULT_RECOVERY", "30"))
        self.table = env("COFFER_FAULT_TABLE")


CONFIG = Config()
ROWS = []


class Target:
    """A cofferd under test and the accounts of its clients (plus a spare
    one, for the client that hangs up)."""

    def __init__(self, inst, pg, accounts):
        self.inst = inst
        self.pg = pg
        self.accounts = accounts[:-1]
        self.spare = accounts[-1]


def make_target(request, tmp_path_factory, engine, pg=None):
    launcher = Launcher(tmp_path_factory)
    # Registered first, so a start that fails still gets cleaned up.
    request.addfinalizer(launcher.close)
    inst = launcher.start(engine, SETTINGS)
    # The default catalog loads after "ready"; let it finish, so it does
    # not compete with the first run.
    inst.wait_log(r"catalog: loaded default catalog", timeout=120)
    with ThreadPoolExecutor(8) as pool:
        accounts = list(pool.map(lambda i: Account(inst, f"fault{i}", f"Fault {i}"),
                                 range(CONFIG.clients + 1)))
    return Target(inst, pg, accounts)


@pytest.fixture(scope="session")
def config():
    return CONFIG


@pytest.fixture(scope="session")
def own_postgres():
    """The suite's own PostgreSQL; the harness's Cofferd creates its
    databases in the server COFFER_TEST_PG_DSN names, so that points here
    while the suite runs."""
    pg = PgServer()
    saved = os.environ.get("COFFER_TEST_PG_DSN")
    try:
        os.environ["COFFER_TEST_PG_DSN"] = pg.start()
        yield pg
    finally:
        if saved is None:
            os.environ.pop("COFFER_TEST_PG_DSN", None)
        else:
            os.environ["COFFER_TEST_PG_DSN"] = saved
        pg.close()


@pytest.fixture(scope="session")
def sqlite_target(request, tmp_path_factory):
    return make_target(request, tmp_path_factory, "sqlite")


@pytest.fixture(scope="session")
def postgres_target(request, tmp_path_factory, own_postgres):
    return make_target(request, tmp_path_factory, "postgres", own_postgres)


def record(fig):
    ROWS.append(fig.row())


def pytest_configure(config):
    # Orphans (the postmaster, once pg_ctl exits) become our children,
    # so pgserver can reap them; see there.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (the harness's Launcher shows
    the daemon's log when a test failed)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_terminal_summary(terminalreporter):
    if ROWS:
        table = TABLE_HEAD + "\n" + "\n".join(ROWS) + "\n"
        terminalreporter.write_sep("-", "fault figures")
        terminalreporter.write(table)
        if CONFIG.table:
            with open(CONFIG.table, "w") as f:
                f.write(table)
    path = os.environ.get("COFFER_TEST_TOTALS")
    if not path:
        return
    stats = terminalreporter.stats
    failed = {r.nodeid for key in ("failed", "error") for r in stats.get(key, [])}
    passed = {r.nodeid for r in stats.get("passed", [])} - failed
    with open(path, "a") as f:
        f.write(f"fault {len(passed)} {len(failed)}\n")
