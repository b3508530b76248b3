-- Pairs as the notifications service knows them, and every notification it plans or sends.
CREATE TABLE pairs (
    pair_id       text PRIMARY KEY,
    programme_id  text NOT NULL,
    mentor_id     text NOT NULL,
    mentee_id     text NOT NULL,
    state         text NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE notifications (
    -- Deterministic: uuid5(rule, triggering event id, recipient). A redelivered event cannot plan twice.
    notification_id     uuid PRIMARY KEY,
    rule                text NOT NULL,
    recipient_id        text NOT NULL,
    programme_id        text,
    pair_id             text,
    triggering_event_id text NOT NULL,
    status              text NOT NULL DEFAULT 'planned',
    due_at              timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_recipient ON notifications (recipient_id, created_at);
