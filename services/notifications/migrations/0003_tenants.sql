-- Every notification and every person's preferences belong to one tenant (the triggering event's, the caller's):
-- the same ids in two tenants are two things. Rows from before tenants were kept apart belong to the tenant a
-- deployment had then, 'default' (TANDEM_TENANT's default; a deployment that ran under another name updates them).
ALTER TABLE notifications ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE notifications ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE notifications DROP CONSTRAINT notifications_pkey;
ALTER TABLE notifications ADD PRIMARY KEY (tenant, notification_id);
DROP INDEX notifications_recipient;
CREATE INDEX notifications_recipient ON notifications (tenant, recipient_id, created_at);
DROP INDEX notifications_session;
CREATE INDEX notifications_session ON notifications (tenant, session_id) WHERE status = 'planned';
DROP INDEX notifications_pair;
CREATE INDEX notifications_pair ON notifications (tenant, pair_id) WHERE status = 'planned';

ALTER TABLE preferences ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE preferences ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE preferences DROP CONSTRAINT preferences_pkey;
ALTER TABLE preferences ADD PRIMARY KEY (tenant, recipient_id);
