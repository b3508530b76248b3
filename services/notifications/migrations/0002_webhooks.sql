-- Outbound webhooks (service state, not rebuilt by replay): HR platforms' subscriptions per tenant, and one
-- delivery per (subscription, event) with its attempts. See services/notifications/webhooks/.
CREATE TABLE webhook_subscriptions (
    subscription_id  uuid PRIMARY KEY,
    tenant           text NOT NULL,
    url              text NOT NULL,
    event_types      text[] NOT NULL,
    description      text NOT NULL DEFAULT '',
    secret           text NOT NULL,               -- whsec_<base64>: the HMAC key, shown to the subscriber once
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_tenant ON webhook_subscriptions (tenant);

CREATE TABLE webhook_deliveries (
    -- uuid5(subscription, event id): also the webhook-id header of every attempt
    delivery_id       uuid PRIMARY KEY,
    subscription_id   uuid NOT NULL REFERENCES webhook_subscriptions ON DELETE CASCADE,
    tenant            text NOT NULL,
    event_id          text NOT NULL,
    event_type        text NOT NULL,
    body              text NOT NULL,              -- the CloudEvent as sent, byte for byte, on every attempt
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'failed', 'delivered', 'dead')),
    attempts          integer NOT NULL DEFAULT 0, -- counted when an attempt starts, before anything is sent
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    next_attempt_at   timestamptz,
    claimed_by        text,
    claimed_until     timestamptz,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at);
