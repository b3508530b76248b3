-- What the notifications service knows of people, programmes, pairs and sessions: f(log).
CREATE TABLE recipients (
    participant_id  text PRIMARY KEY,
    programme_id    text NOT NULL,
    role            text NOT NULL,
    display_name    text NOT NULL,
    email           text NOT NULL,
    locale          text NOT NULL,
    timezone        text NOT NULL,
    withdrawn       boolean NOT NULL DEFAULT false
);

CREATE TABLE programmes (
    programme_id      text PRIMARY KEY,
    name              text NOT NULL,
    cadence_days      integer NOT NULL,
    hr_contact_email  text,
    closed            boolean NOT NULL DEFAULT false
);

CREATE TABLE pairs (
    pair_id       text PRIMARY KEY,
    programme_id  text NOT NULL,
    mentor_id     text NOT NULL,
    mentee_id     text NOT NULL,
    state         text NOT NULL,
    rationale     text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
    session_id        text PRIMARY KEY,
    pair_id           text NOT NULL,
    programme_id      text NOT NULL,
    starts_at         timestamptz NOT NULL,
    duration_minutes  integer NOT NULL,
    agenda            text NOT NULL,
    sequence          integer NOT NULL,
    status            text NOT NULL,
    reason            text NOT NULL DEFAULT '',
    held_at           timestamptz,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX sessions_pair ON sessions (pair_id, held_at);
