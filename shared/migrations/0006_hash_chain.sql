-- Tamper evidence (shared/chain.py): each event carries the hash of its predecessor in its stream (tenant, topic,
-- key) and its own. Rows written before this migration keep NULL hashes ("unchained"); key-distribution records
-- (tandem.keys.*) are never chained.
ALTER TABLE outbox ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;
-- Where an append finds each stream's last hash: one index probe per stream.
CREATE INDEX outbox_chain_head ON outbox (tenant, topic, key, position DESC) WHERE hash IS NOT NULL;

-- Signed checkpoints: every TANDEM_CHECKPOINT_SECONDS and at stop, the service signs (Ed25519) the Merkle root
-- over the heads of all its streams as of an outbox position.
CREATE TABLE checkpoints (
    id          bigserial   PRIMARY KEY,
    service     text        NOT NULL,
    signed_at   text        NOT NULL,   -- ISO 8601 UTC, exactly as signed
    position    bigint      NOT NULL,
    events      bigint      NOT NULL,
    streams     bigint      NOT NULL,
    root        bytea       NOT NULL,
    signature   bytea       NOT NULL,
    public_key  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
