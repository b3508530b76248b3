CREATE TABLE pairs (
    pair_id       text PRIMARY KEY,
    tenant        text NOT NULL,
    programme_id  text NOT NULL,
    mentor_id     text NOT NULL,
    mentee_id     text NOT NULL,
    state         text NOT NULL CHECK (state IN ('proposed', 'active', 'paused', 'ended')),
    score         double precision,
    rationale     text NOT NULL DEFAULT '',
    origin        text NOT NULL,
    match_run_id  text,
    end_reason    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pairs_programme ON pairs (programme_id, state);
-- The same two people are never in two live pairs of one programme.
CREATE UNIQUE INDEX pairs_live_once ON pairs (programme_id, mentor_id, mentee_id)
    WHERE state IN ('proposed', 'active', 'paused');
