-- Who left the company, why a pair ended, and which live pairs a reorganisation flagged: f(log), like the rest.

-- The participant's employee id (names the people in a flag's reporting chain) and why they withdrew
-- ('withdrawn', 'left_company', 'by_hr'; null while enrolled): a person who left the company gets no more mail.
ALTER TABLE recipients ADD COLUMN employee_id text;
ALTER TABLE recipients ADD COLUMN withdrawn_reason text;

-- Why an ended pair ended, and the id of its PairEnded (the trigger of what its end plans).
ALTER TABLE pairs ADD COLUMN end_reason text;
ALTER TABLE pairs ADD COLUMN ended_by text;

-- A live pair's open flag (PairFlagged); the row goes when the flag is resolved or cleared (PairFlagResolved).
CREATE TABLE flags (
    pair_id             text PRIMARY KEY,
    programme_id        text NOT NULL,
    rule                text NOT NULL,
    detail              text NOT NULL,
    chain               text[] NOT NULL,
    since               timestamptz NOT NULL,
    directory_revision  integer NOT NULL,
    action              text NOT NULL CHECK (action IN ('paused', 'left_running')),
    flagged_at          timestamptz NOT NULL
);
CREATE INDEX flags_programme ON flags (programme_id);
