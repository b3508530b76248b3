-- Delivery under faults: dead letters kept in the service's own database, events parked until what they
-- refer to arrives, and the last offset the relay wrote to each partition (to notice a broker that lost
-- its log).

-- Every record a consumer dead-lettered, kept here as well as on its dead-letter topic, so that neither the
-- record nor the fact that it was seen is lost with a broker's log. `fingerprint` is the event id, or for a
-- record without one a hash of its place in the log and its content (see shared.deadletters.fingerprint).
CREATE TABLE dead_letters (
    id            bigserial   PRIMARY KEY,
    consumer      text        NOT NULL,
    fingerprint   text        NOT NULL,
    event_id      text,
    event_type    text,
    kind          text        NOT NULL,  -- undecodable | rejected | tenant | failed | unresolved
    error         text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    "offset"      bigint      NOT NULL,
    record_time   timestamptz,
    key           bytea,
    headers       jsonb       NOT NULL,  -- [[name, base64 value], ...]
    value         bytea,                 -- NULL when too large to keep (size says how large)
    size          integer     NOT NULL,
    dead_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (consumer, fingerprint)
);

-- Events that referred to something not known yet (another topic's event still to come). Each waits here,
-- with the records after it on the same topic and key behind it (order is kept per topic and key), until an
-- event it waits for is applied, a sweep finds it applicable, or its deadline passes (then: dead letter).
CREATE TABLE parked (
    seq             bigserial   PRIMARY KEY,
    consumer        text        NOT NULL,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    topic           text        NOT NULL,
    partition       integer     NOT NULL,
    "offset"        bigint      NOT NULL,
    key             text        NOT NULL,
    waiting_for     text        NOT NULL,
    reason          text        NOT NULL,
    headers         jsonb       NOT NULL,  -- [[name, base64 value], ...]
    value           bytea       NOT NULL,
    record_time     bigint      NOT NULL,
    attempts        integer     NOT NULL DEFAULT 1,
    parked_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    next_attempt_at timestamptz NOT NULL,
    deadline        timestamptz NOT NULL,
    UNIQUE (consumer, event_id)
);
CREATE INDEX parked_waiting ON parked (consumer, waiting_for);
CREATE INDEX parked_queue ON parked (consumer, topic, key, seq);
CREATE INDEX parked_due ON parked (consumer, next_attempt_at);

-- The highest offset the relay has seen acknowledged in each partition it writes, and the event it wrote
-- there. A broker that no longer has that event at that offset has lost its log (a new, empty broker under
-- the old address). The consumer keeps the same about the last record it applied in each partition.
CREATE TABLE producer_positions (
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    last_offset  bigint  NOT NULL,
    event_id     text    NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (topic, partition)
);
ALTER TABLE consumer_positions ADD COLUMN last_event_id text;
