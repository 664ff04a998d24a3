"""Development data: the demo seed ([dev] seed_demo = on) and
POST /internal/dev/wipe.  Checked through the database (sqlite3 / psql);
the vault route comes later, so its query is run here by hand.
"""

from client import assert_error
from client import db_sql as sql
from groupkit import Player

VAULT_VALUE = """
SELECT sum(ci.qty * ca.price) FROM group_characters gc
JOIN container_items ci ON ci.character_id = gc.character_id
JOIN catalog_items ca ON ca.item_id = ci.item_id
 AND ca.snapshot_id = (SELECT id FROM catalog_snapshots WHERE is_current)
WHERE gc.group_id = (SELECT id FROM groups WHERE name = 'Demo Clan')
"""

COUNTS = ["users", "characters", "groups", "group_members", "group_characters",
          "containers", "container_items"]



def counts(inst):
    return {t: int(sql(inst, f"SELECT count(*) FROM {t}")) for t in COUNTS}


def restart(inst):
    assert inst.stop() == 0
    dbname, inst.dbname = inst.dbname, None     # the database already exists
    try:
        inst.start()
    finally:
        inst.dbname = dbname
    inst.wait_ready()


def seeded(cofferd, engine, **server):
    inst = cofferd(engine, {"dev": {"seed_demo": "on"}, "server": server})
    inst.wait_log(r"demo: seeded 3 users, 4 characters", timeout=30)
    return inst


def test_demo_seed_once(cofferd, engine):
    inst = seeded(cofferd, engine)
    users = sql(inst, "SELECT provider, login, display_name FROM users ORDER BY login")
    assert users.splitlines() == ["mock|alice|Alice", "mock|bob|Bob", "mock|carol|Carol"]
    group = sql(inst, "SELECT g.name, u.login FROM groups g JOIN users u"
                      " ON u.id = g.owner_id")
    assert group == "Demo Clan|alice"
    roles = sql(inst, "SELECT u.login, m.role FROM group_members m JOIN users u"
                      " ON u.id = m.user_id ORDER BY u.login")
    assert roles.splitlines() == ["alice|owner", "bob|member", "carol|member"]
    shared = sql(inst, "SELECT c.name FROM group_characters gc JOIN characters c"
                       " ON c.id = gc.character_id ORDER BY c.name")
    assert shared.splitlines() == ["B0aty", "Lynx Titan", "Woox", "Zezima"]

    # Banks: 300-500 distinct priced items each, coins in the millions.
    for name in ("Zezima", "B0aty", "Lynx Titan", "Woox"):
        n = int(sql(inst, "SELECT count(*) FROM container_items ci JOIN characters c"
                          f" ON c.id = ci.character_id WHERE c.name = '{name}'"
                          " AND ci.container = 'bank'"))
        assert 300 <= n <= 500, (name, n)
        coins = int(sql(inst, "SELECT qty FROM container_items ci JOIN characters c"
                              f" ON c.id = ci.character_id WHERE c.name = '{name}'"
                              " AND ci.container = 'bank' AND ci.item_id = 995"))
        assert coins >= 1000000
        inv = int(sql(inst, "SELECT count(*) FROM container_items ci JOIN characters c"
                            f" ON c.id = ci.character_id WHERE c.name = '{name}'"
                            " AND ci.container = 'inventory'"))
        assert 1 <= inv <= 28
        # Worn gear, laid out like the game's equipment (one item a slot).
        worn = int(sql(inst, "SELECT count(*) FROM container_items ci JOIN characters c"
                             f" ON c.id = ci.character_id WHERE c.name = '{name}'"
                             " AND ci.container = 'equipment'"))
        assert 8 <= worn <= 11, (name, worn)
        skills = sql(inst, "SELECT count(*), min(s.xp), max(s.xp) FROM skills s"
                           f" JOIN characters c ON c.id = s.character_id WHERE c.name = '{name}'")
        n, lo, hi = (int(x) for x in skills.split("|"))
        assert n == 23 and lo >= 0 and hi <= 200000000, (name, skills)
    # Every catalog id is known; only worn gear may be untradeable (price 0,
    # as the game values a fire cape), never an unknown id.
    unknown = sql(inst, "SELECT count(*) FROM container_items ci"
                        " LEFT JOIN catalog_items ca ON ca.item_id = ci.item_id"
                        " AND ca.snapshot_id = (SELECT id FROM catalog_snapshots"
                        " WHERE is_current) WHERE ca.price IS NULL"
                        " OR (ca.price <= 0 AND ci.container <> 'equipment')")
    assert unknown == "0"
    # No bank notes, no item at the source data's price cap.
    odd = sql(inst, "SELECT count(*) FROM container_items ci JOIN catalog_items ca"
                    " ON ca.item_id = ci.item_id AND ca.snapshot_id = (SELECT id FROM"
                    " catalog_snapshots WHERE is_current) WHERE ca.name LIKE '% note'"
                    " OR ca.price >= 2147483647")
    assert odd == "0"
    # The group's storage and a seed vault.
    for container, least in (("group_storage", 10), ("seed_vault", 5)):
        n = int(sql(inst, f"SELECT count(*) FROM container_items WHERE container = '{container}'"))
        assert n >= least, (container, n)
    # A week of history: loot with its items and value, level-ups, quests.
    kinds = dict(line.split("|") for line in sql(
        inst, "SELECT kind, count(*) FROM activity GROUP BY kind").splitlines())
    assert int(kinds.get("loot", 0)) >= 3 and int(kinds.get("level_up", 0)) >= 3, kinds
    assert int(kinds.get("quest", 0)) >= 1 and int(kinds.get("death", 0)) >= 1, kinds
    # Banks were filled over weeks: "held since" is not the seed's moment.
    day_ago = ("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')" if engine == "sqlite"
               else "now() - interval '1 day'")
    old = sql(inst, "SELECT count(*) FROM container_items WHERE container = 'bank'"
                    f" AND held_since < {day_ago}")
    assert int(old) > 500, old
    assert int(sql(inst, VAULT_VALUE)) > 0

    before = counts(inst)
    value = sql(inst, VAULT_VALUE)
    mark = inst.log_mark()
    restart(inst)
    inst.wait_log(r"demo: already seeded", since=mark)
    assert counts(inst) == before
    assert sql(inst, VAULT_VALUE) == value


def test_demo_seed_is_deterministic(cofferd, engine):
    a = seeded(cofferd, engine)
    b = seeded(cofferd, engine)
    q = ("SELECT c.name, ci.container, ci.item_id, ci.qty FROM container_items ci"
         " JOIN characters c ON c.id = ci.character_id"
         " ORDER BY c.name, ci.container, ci.item_id")
    assert sql(a, q) == sql(b, q)


def test_wipe_forbidden_in_production(cofferd, engine):
    inst = cofferd(engine, {"server": {"environment": "production"}})
    inst.wait_log(r"startup: tasks done", timeout=30)
    sql(inst, "INSERT INTO users (provider, login, display_name)"
              " VALUES ('mock', 'dave', 'Dave')")
    r = inst.post("/internal/dev/wipe", admin=True)
    assert_error(r, 403, "forbidden")
    assert sql(inst, "SELECT count(*) FROM users") == "1"


def test_wipe_in_development(cofferd, engine):
    inst = seeded(cofferd, engine)
    sql(inst, "UPDATE feature_flags SET enabled = FALSE WHERE key = 'export'")
    snaps = sql(inst, "SELECT id, version, item_count, is_current FROM catalog_snapshots")
    items = sql(inst, "SELECT count(*) FROM catalog_items")

    r = inst.post("/internal/dev/wipe", admin=True)
    assert r.status_code == 200, r.text
    deleted = r.json()["deleted"]
    assert deleted["users"] == 3 and deleted["groups"] == 1
    assert deleted["characters"] == 4 and deleted["container_items"] > 1000

    assert all(v == 0 for v in counts(inst).values()), counts(inst)
    assert sql(inst, "SELECT count(*) FROM app_meta WHERE key = 'demo_seeded'") == "0"
    assert sql(inst, "SELECT id, version, item_count, is_current FROM catalog_snapshots") \
        == snaps
    assert sql(inst, "SELECT count(*) FROM catalog_items") == items
    assert sql(inst, "SELECT count(*) FROM feature_flags") == "5"
    assert sql(inst, "SELECT enabled FROM feature_flags WHERE key = 'export'") in ("0", "f")

    # Wiped, the next start seeds again.
    mark = inst.log_mark()
    restart(inst)
    inst.wait_log(r"demo: seeded 3 users, 4 characters", since=mark, timeout=30)
    assert counts(inst)["users"] == 3


def test_wipe_only_on_admin_listener(cofferd, engine):
    inst = cofferd(engine)
    assert inst.post("/internal/dev/wipe").status_code == 404


def test_demo_join_code_works(cofferd, engine):
    """The documented demo join code is a real one: a new player joins with it."""
    inst = cofferd(engine, {"dev": {"seed_demo": "on"}, "auth": {"mock_provider": "on"}})
    inst.wait_log(r"demo: seeded 3 users, 4 characters", timeout=30)
    code = sql(inst, "SELECT join_code FROM groups WHERE name = 'Demo Clan'")
    assert code == "DEMXCLAN2345"
    r = Player(inst, "dave").join(code)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Demo Clan"


def test_old_demo_join_code_is_corrected(cofferd, engine):
    inst = seeded(cofferd, engine)
    sql(inst, "UPDATE groups SET join_code = 'DEMOCLAN' WHERE name = 'Demo Clan'")
    mark = inst.log_mark()
    restart(inst)
    inst.wait_log(r"demo: already seeded", since=mark)
    assert sql(inst, "SELECT join_code FROM groups WHERE name = 'Demo Clan'") \
        == "DEMXCLAN2345"
