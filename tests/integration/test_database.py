"""The database behind the daemon, on both engines: readiness, the pool
figures, and on PostgreSQL the broker's bound on server connections."""
import collections
import os
import threading
import time

import pytest
import requests

from helpers import parse_metrics, pg_dsn, psql, wait_until

POOL_FIGURES = ("size", "idle", "busy", "leased", "waiting", "max", "min",
                "statements_total")


def test_readyz_names_engine(server):
    r = server.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "engine": server.engine}
    assert server.get("/api/v1/ops/version", admin=True).json()["engine"] == server.engine


def test_ready_means_database_reachable(cofferd, engine):
    # Once the master says "ready:", every worker must reach the database
    # (and the broker): a load balancer or systemd may send traffic now.
    inst = cofferd(engine)
    for _ in range(10):
        r = inst.get("/readyz")
        assert r.status_code == 200, r.text
        r = inst.get("/api/v1/ops/pool", admin=True)
        assert r.status_code == 200, r.text


def test_schema_lands_in_configured_database(server):
    if server.engine == "sqlite":
        assert os.path.getsize(server.settings["database"]["sqlite_path"]) > 0
    else:
        tables = psql(server.dsn, "SELECT count(*) FROM information_schema.tables "
                                  "WHERE table_schema = 'public'")
        assert int(tables) > 0


def pool(server):
    r = server.get("/api/v1/ops/pool", admin=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["engine"] == server.engine
    assert isinstance(body["pool"], dict)
    return body["pool"]


def test_ops_pool(server):
    figures = pool(server)
    if server.engine == "sqlite":
        return
    for name in POOL_FIGURES:
        assert isinstance(figures.get(name), int) and figures[name] >= 0, (name, figures)
    assert figures["min"] == 1 and figures["max"] == 4
    assert figures["size"] <= figures["max"]
    assert figures["idle"] + figures["busy"] <= figures["size"]

    before = figures["statements_total"]
    assert server.get("/readyz").status_code == 200
    wait_until(lambda: pool(server)["statements_total"] > before, 5,
               "statements_total to count the /readyz query")


def test_metrics_pool_gauges(server):
    if server.engine == "sqlite":
        pytest.skip("SQLite has no connection pool")
    samples = {name: value for name, labels, value in parse_metrics(server.metrics())
               if name.startswith("coffer_pool_") and not labels}
    assert samples.get("coffer_pool_max") == 4, samples
    assert 0 <= samples["coffer_pool_size"] <= 4


def test_pool_never_exceeds_pool_max(cofferd):
    inst = cofferd("postgres", settings={"database": {"pool_min": 1, "pool_max": 2}})
    count_sql = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cofferd' "
                 f"AND datname = '{inst.dbname}'")
    statuses = collections.Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                status = requests.get(inst.url + "/readyz", timeout=10).status_code
            except requests.RequestException as e:
                status = type(e).__name__
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=hammer) for _ in range(50)]
    for t in threads:
        t.start()
    samples = []
    try:
        # Sample the server side for as long as the load lasts: at least
        # 10 samples and 300 requests.
        deadline = time.monotonic() + 30
        while len(samples) < 10 or sum(statuses.values()) < 300:
            samples.append(int(psql(pg_dsn(), count_sql)))
            assert time.monotonic() < deadline, f"too slow: {dict(statuses)}"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=20)

    assert max(samples) <= 2, samples
    assert max(samples) >= 1, "no connection named cofferd: is application_name set?"
    assert set(statuses) <= {200, 503}, dict(statuses)
    assert statuses[200] > 0, dict(statuses)
    figures = pool(inst)
    assert figures["max"] == 2 and figures["size"] <= 2, figures
