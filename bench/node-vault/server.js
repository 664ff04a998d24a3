// server.js -- the comparison server of bench/run-vault.sh: GET
// /api/v1/groups/:id/vault (the default page) on Node 20 + Express 5 + pg,
// issuing the aggregate page query coffer used before the kept vault
// (old-page.sql: PAGE_SQL for value desc, first page, from the commit
// before it), so the two servers do the same work per request:
//   1. the plugin token (Bearer), by its SHA-256, to a user;
//   2. the caller's membership of the group (else 404);
//   3. the page (101 rows: one more tells whether a next page exists),
//      holders sorted like coffer's, totals from the first row.
//
//   node server.js PORT DSN [WORKERS] [POOL_PER_WORKER]
//
// One process per core (node:cluster), each with its own pg.Pool.
"use strict";
const cluster = require("node:cluster");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const [port, dsn, workers = "2", poolMax = "4"] = process.argv.slice(2);

if (cluster.isPrimary) {
	for (let i = 0; i < Number(workers); i++)
		cluster.fork();
	cluster.on("exit", (w, code) => { console.error(`worker ${w.id} exited ${code}`); });
	return;
}

const express = require("express");
const { Pool } = require("pg");

const pageSql = fs.readFileSync(path.join(__dirname, "old-page.sql"), "utf8").trim();
const pool = new Pool({ connectionString: dsn.includes("=") ? undefined : dsn,
	...(dsn.includes("=") ? parseKv(dsn) : {}), max: Number(poolMax),
	application_name: "node-vault" });

// "host=/x user=postgres dbname=y" -> { host, user, database }.
function parseKv(s) {
	const o = {};
	for (const kv of s.trim().split(/\s+/)) {
		const [k, v] = kv.split("=");
		o[k === "dbname" ? "database" : k] = v;
	}
	return o;
}

function holderCmp(x, y) {
	if (x.qty !== y.qty)
		return x.qty > y.qty ? -1 : 1;
	if (x.character !== y.character)
		return x.character < y.character ? -1 : 1;
	return x.container < y.container ? -1 : x.container > y.container ? 1 : 0;
}

const app = express();
app.disable("x-powered-by");
app.disable("etag");

app.get("/api/v1/groups/:id/vault", async (req, res) => {
	const auth = req.get("authorization") || "";
	if (!auth.startsWith("Bearer "))
		return res.status(401).json({ error: { code: "unauthorized", message: "no token" } });
	const hash = crypto.createHash("sha256").update(auth.slice(7)).digest("hex");
	const gid = Number(req.params.id);
	try {
		const t = await pool.query("SELECT user_id FROM plugin_tokens " +
		    "WHERE token_hash = $1 AND revoked_at IS NULL", [hash]);
		if (t.rowCount === 0)
			return res.status(401).json({ error: { code: "unauthorized", message: "bad token" } });
		const m = await pool.query("SELECT role FROM group_members " +
		    "WHERE group_id = $1 AND user_id = $2", [gid, t.rows[0].user_id]);
		if (m.rowCount === 0)
			return res.status(404).json({ error: { code: "not_found", message: "no such group" } });
		const limit = 100;
		const r = await pool.query(pageSql, [gid, null, null, null, null, limit + 1]);
		const rows = r.rows;
		const items = rows.slice(0, limit).map((row) => ({
			id: Number(row.id), name: row.name, qty: Number(row.qty),
			unit_price: Number(row.unit_price), value: Number(row.value),
			holders: (row.holders || []).sort(holderCmp),
		}));
		const last = rows.length > limit ? rows[limit - 1] : null;
		res.json({
			group_id: gid,
			catalog_version: rows.length ? rows[0].version : null,
			total_value: rows.length ? Number(rows[0].v_all) : 0,
			item_count: rows.length ? Number(rows[0].n_all) : 0,
			items,
			next_cursor: last ? Buffer.from(`vd:${last.id}:${last.value}`).toString("base64url") : null,
		});
	} catch (e) {
		res.status(500).json({ error: { code: "internal", message: String(e.message) } });
	}
});

app.listen(Number(port), "127.0.0.1");
