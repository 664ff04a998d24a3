"""An installation from before the kept vault, upgraded.

A database is built at schema version 2 (migrations 001 and 002 applied as
the runner applies them, and recorded in schema_migrations), filled with
users, characters, containers, groups and characters shared in one or two
groups, priced by a catalog snapshot of its own.  cofferd then migrates it
to the current version on start: migration 003 fills the kept vault from
those rows, 006 puts each item's holders in the answer's order.  The
verifier (POST /internal/vault/verify) must find every group's kept vault
equal to the one recomputed from the container rows, on both engines, and
a page must answer the holders in the API's order.
"""
import hashlib
import json
import os
import sqlite3
import tempfile
import uuid

import requests

from client import TIMEOUT
from conftest import Cofferd
from helpers import free_ports, pg_dsn, psql

OPS_TOKEN = "upgrade-ops-" + uuid.uuid4().hex
TOKEN_FILE = os.path.join(tempfile.mkdtemp(prefix="coffer-upgrade-"), "ops-token")
with open(TOKEN_FILE, "w") as f:
    f.write(OPS_TOKEN + "\n")
OPS = {"Authorization": "Bearer " + OPS_TOKEN}

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src",
                      "db", "schema")
VERSION_2 = ["001_init.sql", "002_login_binding.sql"]


def token(uid):
    return f"cfr_upgrade_{uid}"


# Item 999 is in no catalog (name null, price 0).  Item 200 is held 5 times
# by three characters whose names sort differently bytewise than ignoring
# case: the holders' order is "Alpha", "Charlie", "bravo".
ROWS = [
    ("users", "id, provider, login, display_name",
     [(1, "mock", "u1", "One"), (2, "mock", "u2", "Two"), (3, "mock", "u3", "Three")]),
    ("plugin_tokens", "id, user_id, label, token_hash",
     [(u, u, "t", hashlib.sha256(token(u).encode()).hexdigest()) for u in (1, 2, 3)]),
    ("characters", "id, user_id, name",
     [(1, 1, "Alpha"), (2, 2, "bravo"), (3, 3, "Charlie"), (4, 3, "delta"), (5, 1, "Echo")]),
    ("containers", "character_id, container, seq",
     [(c, k, 1) for c in (1, 2, 3, 4, 5) for k in ("bank", "inventory")]),
    ("container_items", "character_id, container, item_id, qty",
     [(1, "bank", 200, 5), (1, "bank", 100, 3), (1, "inventory", 999, 7),
      (2, "bank", 200, 5), (2, "inventory", 300, 1000), (2, "inventory", 100, 1),
      (3, "inventory", 200, 5), (3, "bank", 300, 250),
      (4, "bank", 100, 9), (4, "inventory", 200, 2),
      (5, "bank", 200, 40)]),
    ("groups", "id, name, owner_id, join_code",
     [(1, "first", 1, "JOINONE1"), (2, "second", 2, "JOINTWO2"), (3, "empty", 3, "JOINTRE3")]),
    ("group_members", "group_id, user_id, role",
     [(1, 1, "owner"), (1, 2, "member"), (1, 3, "member"),
      (2, 2, "owner"), (2, 3, "admin"), (3, 3, "owner")]),
    # Character 5 is shared nowhere; 2 and 3 are shared in both groups.
    ("group_characters", "group_id, user_id, character_id",
     [(1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 2, 2), (2, 3, 3), (2, 3, 4)]),
]
CATALOG_ITEMS = [(100, "Zeta sword", 50), (200, "abyssal whip", 1000), (300, "Coins", 1)]


def version_2_sqlite(path):
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
               "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT "
               "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
    for v, f in enumerate(VERSION_2, 1):
        with open(os.path.join(SCHEMA, "sqlite", f)) as sql:
            db.executescript("BEGIN;\n" + sql.read() + "\nCOMMIT;")
        db.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                   (v, f[4:-4]))
    with db:
        for table, cols, rows in ROWS:
            marks = ", ".join("?" * len(cols.split(",")))
            db.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
        db.execute("INSERT INTO catalog_snapshots (id, version, item_count, is_current) "
                   "VALUES (1, 'before', 3, 1)")
        db.executemany("INSERT INTO catalog_items (snapshot_id, item_id, name, price) "
                       "VALUES (1, ?, ?, ?)", CATALOG_ITEMS)
    db.close()


def literal(v):
    return str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"


def version_2_postgres(dsn):
    psql(dsn, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
         "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
    for v, f in enumerate(VERSION_2, 1):
        with open(os.path.join(SCHEMA, "postgres", f)) as sql:
            psql(dsn, "BEGIN;\n" + sql.read() + "\nCOMMIT;")
        psql(dsn, f"INSERT INTO schema_migrations (version, name) VALUES ({v}, '{f[4:-4]}')")
    stmts = []
    for table, cols, rows in ROWS:
        values = ", ".join("(" + ", ".join(literal(x) for x in r) + ")" for r in rows)
        stmts.append(f"INSERT INTO {table} ({cols}) VALUES {values}")
    stmts.append("INSERT INTO catalog_snapshots (id, version, item_count, is_current) "
                 "VALUES (1, 'before', 3, true)")
    stmts.append("INSERT INTO catalog_items (snapshot_id, item_id, name, price) VALUES " +
                 ", ".join(f"(1, {i}, {literal(n)}, {p})" for i, n, p in CATALOG_ITEMS))
    # The rows were given ids: move the sequences past them, as the
    # application's own inserts would have.
    for table in ("users", "plugin_tokens", "characters", "groups", "catalog_snapshots"):
        stmts.append(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"(SELECT MAX(id) FROM {table}))")
    psql(dsn, "BEGIN;\n" + ";\n".join(stmts) + ";\nCOMMIT;")


def upgraded(engine, tmp_path):
    """A cofferd started on a version-2 database filled with ROWS."""
    inst = Cofferd(tmp_path, engine, {"ops": {"token_file": TOKEN_FILE}}, free_ports(2))
    dbname = inst.dbname
    if engine == "postgres":
        psql(pg_dsn(), f"CREATE DATABASE {dbname}")
        version_2_postgres(inst.dsn)
    else:
        version_2_sqlite(inst.settings["database"]["sqlite_path"])
    inst.dbname = None          # start() would create it
    inst.start()
    inst.dbname = dbname        # and the teardown drops it
    return inst


def verify(inst):
    r = requests.post(inst.admin_url + "/internal/vault/verify", json={}, headers=OPS,
                      timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def page(inst, uid, gid):
    r = requests.get(f"{inst.url}/api/v1/sync/groups/{gid}/vault",
                     headers={"Authorization": "Bearer " + token(uid)}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    # The answer is written as text around the kept holders: compact, in
    # the order of its keys, as every other answer.
    assert r.text == json.dumps(r.json(), separators=(",", ":"), ensure_ascii=False)
    return r.json()


def test_a_version_2_database_upgrades_to_an_equal_kept_vault(engine, tmp_path):
    inst = upgraded(engine, tmp_path)
    try:
        inst.wait_ready()
        assert verify(inst) == {"checked": 3, "differ": []}

        # What the backfill and 006 kept is what the page answers, holders
        # in the API's order; the rows of character 5 (shared nowhere)
        # count nowhere.
        items = {i["id"]: i for i in page(inst, 1, 1)["items"]}
        assert set(items) == {100, 200, 300, 999}
        whip = items[200]
        assert whip["qty"] == 15
        assert [(h["character"], h["container"], h["qty"]) for h in whip["holders"]] == [
            ("Alpha", "bank", 5), ("Charlie", "inventory", 5), ("bravo", "bank", 5)]
        assert items[999]["name"] is None and items[999]["value"] == 0
        coins = items[300]
        assert coins["qty"] == 1250
        assert [h["character"] for h in coins["holders"]] == ["bravo", "Charlie"]
        second = {i["id"]: i["qty"] for i in page(inst, 3, 2)["items"]}
        assert second == {100: 10, 200: 12, 300: 1250}
        assert page(inst, 3, 3)["items"] == []

        # A sync after the upgrade keeps it equal.
        r = requests.put(f"{inst.url}/api/v1/sync/characters/Charlie/containers/bank",
                         headers={"Authorization": "Bearer " + token(3)},
                         json={"seq": 2, "items": [{"id": 300, "qty": 1}, {"id": 100, "qty": 4}]},
                         timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        assert verify(inst) == {"checked": 3, "differ": []}
    finally:
        problems = inst.shutdown()
        inst.drop_database()
    assert problems == []
