"""A catalog refresh reprices the vault at once, and a rollback brings the
old prices back (both engines, through HTTP)."""
import requests

from client import mock_server
from groupkit import Player, catalog

WHIP, COINS = 4151, 995

# Its own server per test: a refresh changes the prices every later test
# of a shared server would see.
inst = mock_server(catalog=True, scope="function")


def admin_post(inst, path, body):
    r = requests.post(inst.admin_url + path, json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def vault_items(p, gid):
    r = p.get(f"/api/v1/groups/{gid}/vault")
    assert r.status_code == 200, r.text
    doc = r.json()
    return doc, {it["id"]: it for it in doc["items"]}


def test_refresh_and_rollback_reprice_the_vault(inst):
    alice = Player(inst, "cvalice", "Alice")
    alice.link("Pricey")
    alice.sync("Pricey", "bank", [(WHIP, 2), (COINS, 1000)])
    group = alice.create_group("Repriced", ["Pricey"])
    gid = group["id"]
    cat = catalog()

    doc, items = vault_items(alice, gid)
    first = doc["catalog_version"]
    assert items[WHIP]["unit_price"] == cat[WHIP][1]
    assert doc["total_value"] == 2 * cat[WHIP][1] + 1000 * cat[COINS][1]

    # A new catalog that knows only the whip, at a new price.
    new = admin_post(inst, "/internal/catalog/refresh", {
        "version": "test-2", "items": [{"id": WHIP, "name": "Abyssal whip",
                                         "members": True, "tradeable": True,
                                         "stackable": False, "highalch": 72000,
                                         "price": 1234567}]})
    assert new["item_count"] == 1
    doc, items = vault_items(alice, gid)
    assert doc["catalog_version"] == "test-2"
    assert items[WHIP]["unit_price"] == 1234567 and items[WHIP]["value"] == 2 * 1234567
    assert items[COINS]["name"] is None and items[COINS]["unit_price"] == 0
    assert doc["total_value"] == 2 * 1234567

    # Back to the shipped catalog (the snapshot loaded at start, just
    # before ours): the old prices again.
    old_id = new["snapshot_id"] - 1
    back = admin_post(inst, "/internal/catalog/rollback", {"snapshot_id": old_id})
    assert back["version"] == first
    doc, items = vault_items(alice, gid)
    assert doc["catalog_version"] == first
    assert items[WHIP]["unit_price"] == cat[WHIP][1]
    assert doc["total_value"] == 2 * cat[WHIP][1] + 1000 * cat[COINS][1]
