-- Dead letters an operator redrives (`tandem dlq redrive`): their status, who redrove them when, and their history.
-- status: dead (waiting for an operator) | redriven (re-published to its topic; if it fails again it is dead again).
ALTER TABLE dead_letters
    ADD COLUMN status      text        NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'redriven')),
    ADD COLUMN redriven_at timestamptz,
    ADD COLUMN redriven_by text,
    ADD COLUMN redrives    integer     NOT NULL DEFAULT 0,
    ADD COLUMN history     jsonb       NOT NULL DEFAULT '[]';
CREATE INDEX dead_letters_status ON dead_letters (status, id);
