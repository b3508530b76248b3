-- Data keys for personal data in events (shared/personal.py): the keys this service issued (owner = it) and its
-- mirror of every other service's (from the key topic). A key is stored only wrapped by the KEK; destroying it
-- wipes the wrapped bytes for good and keeps the row, so that "destroyed" is known and never undone.
CREATE SEQUENCE data_keys_seq;

CREATE TABLE data_keys (
    key_id            text        PRIMARY KEY,
    tenant            text        NOT NULL,
    owner             text        NOT NULL,
    kind              text        NOT NULL,   -- identity | pair | text ('' on a marker for a key never seen)
    scope_id          text        NOT NULL,   -- employee id (identity), pair id (pair), participant or pair id (text)
    programme_id      text,
    kek_id            text        NOT NULL,
    wrapped           bytea,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    destroyed_at      timestamptz,
    destroyed_reason  text,
    seq               bigint      NOT NULL DEFAULT nextval('data_keys_seq'),
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE INDEX data_keys_scope ON data_keys (tenant, scope_id);
CREATE INDEX data_keys_programme ON data_keys (tenant, programme_id) WHERE programme_id IS NOT NULL;
