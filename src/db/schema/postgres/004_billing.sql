-- 004_billing.sql (PostgreSQL) -- billing takes effect: what 001 left out.
--
-- The same changes as src/db/schema/sqlite/004_billing.sql, whose comments
-- explain them.

ALTER TABLE subscriptions ADD COLUMN last_event_ms bigint NOT NULL DEFAULT 0;

CREATE INDEX activity_group_created_idx ON activity (group_id, created_at);
