-- The sessions service's own state (schema public, not rebuilt by replay): the learning records it has
-- published. One per participant and programme; a trigger inserts here first and emits LearningRecorded
-- only when the row is new, so a redelivered or a later trigger records nothing twice.
CREATE TABLE learning_records (
    record_id         text PRIMARY KEY,          -- uuid5 of participant and programme
    event_id          text NOT NULL UNIQUE,      -- the LearningRecorded envelope's id (uuid5 of the record)
    participant_id    text NOT NULL,
    programme_id      text NOT NULL,
    tenant            text NOT NULL,
    outcome           text NOT NULL CHECK (outcome IN ('completed', 'withdrawn', 'left_company', 'by_hr')),
    trigger_event_id  text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (participant_id, programme_id)
);
