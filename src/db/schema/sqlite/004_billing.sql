-- 004_billing.sql (SQLite) -- billing takes effect: what 001 left out.
--
-- 001 already has subscriptions, billing_events, checkout_sessions and
-- vault_daily.  Billing needs two more facts:
--
--  * subscriptions.last_event_ms: the provider's creation time (Unix
--    milliseconds) of the last event applied to the subscription.  An
--    event created earlier than it is recorded (billing_events keeps every
--    event id once) but changes nothing, so events delivered out of order
--    never let an older one undo a newer one (src/store/billing.c).
--  * activity_group_created_idx: the retention task deletes a group's
--    activity older than its owner's plan keeps, group by group; this
--    index makes each group's "older than" a range read instead of a scan
--    of every old row of every plan (activity_created_idx would walk the
--    premium plan's year of activity to find the free plan's week).

ALTER TABLE subscriptions ADD COLUMN last_event_ms INTEGER NOT NULL DEFAULT 0;

CREATE INDEX activity_group_created_idx ON activity (group_id, created_at);
