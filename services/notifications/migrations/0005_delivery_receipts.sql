-- One mail per notification (see services/notifications/domain/delivery.py):
-- * message_id: <notification id@sender's domain>, set at the first attempt and kept: every attempt, retry, resend
--   and restart sends the same Message-ID (and a chat message the same Idempotency-Key);
-- * claimed_at / last_attempt_at: when the current claim was taken and when an attempt was last recorded (committed
--   before anything is sent). A claim that lapsed without recording an attempt is counted as one by the next claim;
-- * notification_receipts: a row written as soon as a server took the message (SMTP 250, a 2xx from a chat
--   webhook). A send is shown to have happened when, and only when, such a row exists: a notification found
--   `sending` under a lapsed claim is completed without sending when it has one, and sent again (same Message-ID)
--   when it has none.
ALTER TABLE notifications ADD COLUMN message_id text;
ALTER TABLE notifications ADD COLUMN claimed_at timestamptz;
ALTER TABLE notifications ADD COLUMN last_attempt_at timestamptz;

CREATE TABLE notification_receipts (
    receipt_id       bigserial PRIMARY KEY,
    tenant           text NOT NULL,
    notification_id  uuid NOT NULL,
    attempt          integer NOT NULL,
    channel          text NOT NULL,
    locale           text NOT NULL,
    message_id       text NOT NULL,
    reply            text NOT NULL,     -- what the server answered, e.g. "250 OK: queued as 4F2A"
    accepted_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, notification_id) REFERENCES notifications (tenant, notification_id) ON DELETE CASCADE
);
CREATE INDEX notification_receipts_notification ON notification_receipts (tenant, notification_id, receipt_id);
