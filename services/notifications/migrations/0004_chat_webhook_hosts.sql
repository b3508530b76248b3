-- The hosts a tenant's people may point their chat webhook at (HR keeps the list: PUT /chat-webhook-hosts).
-- Normalised: lower case, IDNA for names, the canonical text of an IP address. Checked on save and on every send.
CREATE TABLE chat_webhook_hosts (
    tenant      text NOT NULL,
    host        text NOT NULL,
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, host)
);
