#!/usr/bin/python3
"""gen_data.py -- load benchmark data straight into a migrated coffer database.

    gen_data.py sqlite PATH  [GROUPS] [ITEMS]
    gen_data.py postgres DSN [GROUPS] [ITEMS]

GROUPS groups (default 1000) of 5 members; every member has one character
"b<user id>" whose bank holds ITEMS (default 800) priced items from the
catalog in data/item-catalog.json, and a plugin token "cfr_bench_<user id>".
Ids start at 1000000 so they never meet the application's own rows.  The
bank of character k is a fixed window of the priced item list, so the wrk
scripts (which read OUT_DIR/items.txt) can rebuild it and change a few
quantities.  Writes items.txt next to this script's output (env OUT_DIR).

The rows go straight into the tables, past the store, so the kept vault
(vault_holders, vault_items, vault_totals) is then filled by the backfill
of migration 003_kept_vault.sql and put in the answer's order by 006, the
same SQL that fills it for an existing installation.
"""
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys

BASE = 1000000


def priced_items():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "data", "item-catalog.json")) as f:
        items = json.load(f)["items"]
    return [i["id"] for i in items if i["tradeable"] and i["price"] > 0]


def rows(groups, nitems, priced):
    users, tokens, chars, conts, citems, grps, members, shares = ([] for _ in range(8))
    for g in range(groups):
        gid = BASE + g
        owner = BASE + g * 5
        grps.append((gid, f"Bench {g}", owner, f"BENCH{g:07d}"))
        for m in range(5):
            uid = BASE + g * 5 + m
            users.append((uid, "bench", f"u{uid}", f"User {uid}"))
            tok = f"cfr_bench_{uid}"
            tokens.append((uid, uid, "bench", hashlib.sha256(tok.encode()).hexdigest()))
            chars.append((uid, uid, f"b{uid}"))
            conts.append((uid, "bank", 1))
            start = (uid * 37) % len(priced)
            for j in range(nitems):
                item = priced[(start + j) % len(priced)]
                citems.append((uid, "bank", item, 1 + (uid + j) % 1000))
            members.append((gid, uid, "owner" if m == 0 else "member"))
            shares.append((gid, uid, uid))
    return users, tokens, chars, conts, citems, grps, members, shares


TABLES = [
    ("users", "id, provider, login, display_name"),
    ("plugin_tokens", "id, user_id, label, token_hash"),
    ("characters", "id, user_id, name"),
    ("containers", "character_id, container, seq"),
    ("container_items", "character_id, container, item_id, qty"),
    ("groups", "id, name, owner_id, join_code"),
    ("group_members", "group_id, user_id, role"),
    ("group_characters", "group_id, user_id, character_id"),
]


def backfill(engine):
    """The backfill part of migration 003 for engine (everything after its
    "-- Backfill" comment), then migration 006, which puts the kept holders
    in the answer's order."""
    here = os.path.dirname(os.path.abspath(__file__))
    schema = os.path.join(here, "..", "src", "db", "schema", engine)
    with open(os.path.join(schema, "003_kept_vault.sql")) as f:
        text = f.read()
    with open(os.path.join(schema, "006_vault_holders_order.sql")) as f:
        order = f.read()
    return text[text.index("-- Backfill"):] + "\n" + order


def load_sqlite(path, data):
    db = sqlite3.connect(path, timeout=60)
    db.execute("PRAGMA foreign_keys = ON")
    with db:
        for (table, cols), rs in zip(TABLES, data):
            marks = ", ".join("?" * len(cols.split(",")))
            db.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rs)
    db.executescript("BEGIN;\n" + backfill("sqlite") + "\nCOMMIT;")
    db.execute("ANALYZE")
    db.close()


def load_postgres(dsn, data):
    for (table, cols), rs in zip(TABLES, data):
        buf = io.StringIO()
        for r in rs:
            buf.write("\t".join(str(v) for v in r) + "\n")
        subprocess.run(["psql", dsn, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"COPY {table} ({cols}) FROM STDIN"],
                       input=buf.getvalue(), text=True, check=True)
    subprocess.run(["psql", dsn, "-q", "-v", "ON_ERROR_STOP=1", "-1", "-c",
                    backfill("postgres")], check=True)
    subprocess.run(["psql", dsn, "-q", "-c", "ANALYZE"], check=True)


def main():
    engine, target = sys.argv[1], sys.argv[2]
    groups = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    nitems = int(sys.argv[4]) if len(sys.argv) > 4 else 800
    priced = priced_items()
    out = os.environ.get("OUT_DIR", ".")
    with open(os.path.join(out, "items.txt"), "w") as f:
        f.write("\n".join(str(i) for i in priced) + "\n")
    data = rows(groups, nitems, priced)
    (load_sqlite if engine == "sqlite" else load_postgres)(target, data)
    print(f"loaded {groups} groups, {groups * 5} users, {len(data[4])} container items")


if __name__ == "__main__":
    main()
