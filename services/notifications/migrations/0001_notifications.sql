-- The service's own state: every notification it plans, its delivery status, and people's preferences.
CREATE TABLE notifications (
    -- uuid5(rule, trigger, recipient): a redelivered event or a restart can never plan it twice.
    notification_id  uuid PRIMARY KEY,
    rule             text NOT NULL,
    recipient_id     text NOT NULL,
    trigger          text NOT NULL,
    pair_id          text,
    programme_id     text,
    session_id       text,
    due_at           timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'planned'
                     CHECK (status IN ('planned', 'sending', 'sent', 'failed', 'cancelled', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0,
    channel          text,
    last_error       text,
    note             text,
    claimed_by       text,
    claimed_until    timestamptz,
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status IN ('planned', 'sending');
CREATE INDEX notifications_recipient ON notifications (recipient_id, created_at);
CREATE INDEX notifications_session ON notifications (session_id) WHERE status = 'planned';
CREATE INDEX notifications_pair ON notifications (pair_id) WHERE status = 'planned';

CREATE TABLE preferences (
    recipient_id      text PRIMARY KEY,
    channel           text NOT NULL CHECK (channel IN ('email', 'chat')),
    locale            text NOT NULL CHECK (locale IN ('de', 'en')),
    quiet_start       time,
    quiet_end         time,
    opted_out         boolean NOT NULL DEFAULT false,
    chat_webhook_url  text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
