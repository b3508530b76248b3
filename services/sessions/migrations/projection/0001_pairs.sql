-- The sessions service's own view of pairs, built from pairing events.
CREATE TABLE pairs (
    pair_id       text PRIMARY KEY,
    programme_id  text NOT NULL,
    mentor_id     text NOT NULL,
    mentee_id     text NOT NULL,
    state         text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX pairs_programme ON pairs (programme_id);
