-- Tamper evidence (shared/chain.py): each event carries the hash of its predecessor in its stream (tenant, topic,
-- key) and its own. Rows written before this migration keep NULL hashes ("unchained"); key-distribution records
-- (tandem.keys.*) are never chained.
ALTER TABLE outbox ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;
-- Where an append finds each stream's last hash: one index probe per stream.
CREATE INDEX outbox_chain_head ON outbox (tenant, topic, key, position DESC) WHERE hash IS NOT NULL;

-- What an append does before it writes its rows, in one round trip (shared.outbox.append): take the locks (the
-- first name shared, the checkpoint lock; then each stream's, in the order given), then, with a snapshot taken after
-- them (each statement of a PL/pgSQL function in READ COMMITTED takes its own), the positions for its `n` rows and
-- each stream's last hash (NULL: none yet).
CREATE FUNCTION outbox_chain_prepare(
    locks text[], tenants text[], topics text[], keys text[], n integer, OUT positions bigint[], OUT heads bytea[]
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    name text;
    first boolean := true;
BEGIN
    FOREACH name IN ARRAY locks LOOP
        IF first THEN
            PERFORM pg_advisory_xact_lock_shared(hashtextextended(name, 0));
            first := false;
        ELSE
            PERFORM pg_advisory_xact_lock(hashtextextended(name, 0));
        END IF;
    END LOOP;
    positions := ARRAY(SELECT nextval('outbox_position_seq') FROM generate_series(1, n));
    heads := ARRAY(
        SELECT h.hash
        FROM unnest(tenants, topics, keys) WITH ORDINALITY AS s(tenant, topic, key, i)
        LEFT JOIN LATERAL (
            SELECT o.hash FROM outbox o
            WHERE o.tenant = s.tenant AND o.topic = s.topic AND o.key = s.key AND o.hash IS NOT NULL
            ORDER BY o.position DESC LIMIT 1
        ) h ON true
        ORDER BY s.i
    );
END $$;

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
