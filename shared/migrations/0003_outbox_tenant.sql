-- Every outbox row names its tenant (the envelope's), so a service reading its own history (the sessions
-- service loads a pair's events from its outbox) reads one tenant's only. Rows written before this column
-- existed take it from the CloudEvents header they carry (ce_tenant); every envelope has one.
ALTER TABLE outbox ADD COLUMN tenant text;
UPDATE outbox o SET tenant = (
    SELECT h ->> 1 FROM jsonb_array_elements(o.headers) AS h WHERE h ->> 0 = 'ce_tenant' LIMIT 1
);
UPDATE outbox SET tenant = 'default' WHERE tenant IS NULL;  -- none expected: every envelope names its tenant
ALTER TABLE outbox ALTER COLUMN tenant SET NOT NULL;
-- The event-store lookup (one aggregate's events in order) was a sequential scan over the whole outbox.
CREATE INDEX outbox_tenant_key ON outbox (tenant, key, position);
