-- The sessions service's read model: a deterministic function of the pairing and sessions topics.
-- Every time here is an event's time, never now(): replay rebuilds the same rows.

CREATE TABLE programmes (
    programme_id  text PRIMARY KEY,
    name          text NOT NULL,
    starts_on     date NOT NULL,
    ends_on       date NOT NULL,
    cadence_days  integer NOT NULL,
    focus_topics  text[] NOT NULL,
    closed        boolean NOT NULL DEFAULT false
);

-- Only what the dashboard and calendar need of a person (names and addresses come from enrolment events).
CREATE TABLE participants (
    participant_id  text PRIMARY KEY,
    programme_id    text NOT NULL,
    role            text NOT NULL,
    display_name    text NOT NULL,
    email           text NOT NULL,
    withdrawn       boolean NOT NULL DEFAULT false
);

CREATE TABLE pairs (
    pair_id       text PRIMARY KEY,
    programme_id  text NOT NULL,
    mentor_id     text NOT NULL,
    mentee_id     text NOT NULL,
    state         text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX pairs_programme ON pairs (programme_id);

CREATE TABLE pair_changes (
    event_id  text PRIMARY KEY,
    pair_id   text NOT NULL,
    at        timestamptz NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('paused', 'resumed', 'ended'))
);
CREATE INDEX pair_changes_pair ON pair_changes (pair_id, at);

CREATE TABLE agreements (
    pair_id         text NOT NULL,
    participant_id  text NOT NULL,
    role            text NOT NULL,
    meeting_rhythm  text NOT NULL,
    confidentiality boolean NOT NULL,
    learning_focus  text NOT NULL,
    confirmed_at    timestamptz NOT NULL,
    PRIMARY KEY (pair_id, role)
);

CREATE TABLE goals (
    goal_id       text PRIMARY KEY,
    pair_id       text NOT NULL,
    programme_id  text NOT NULL,
    topic         text NOT NULL,
    description   text NOT NULL,
    set_at        timestamptz NOT NULL,
    achieved_at   timestamptz
);
CREATE INDEX goals_programme ON goals (programme_id);

CREATE TABLE confidence (
    pair_id         text NOT NULL,
    programme_id    text NOT NULL,
    participant_id  text NOT NULL,
    phase           text NOT NULL,
    ratings         jsonb NOT NULL,
    rated_at        timestamptz NOT NULL,
    PRIMARY KEY (pair_id, participant_id, phase)
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
    cancel_reason     text NOT NULL DEFAULT '',
    held_at           timestamptz,
    minutes           integer,
    topics            text[] NOT NULL DEFAULT '{}',
    tools             text[] NOT NULL DEFAULT '{}',
    action_items      text[] NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL
);
CREATE INDEX sessions_pair ON sessions (pair_id);
CREATE INDEX sessions_programme ON sessions (programme_id, held_at);

CREATE TABLE feedback (
    feedback_id               text PRIMARY KEY,
    pair_id                   text NOT NULL,
    programme_id              text NOT NULL,
    session_id                text,
    author_id                 text NOT NULL,
    author_role               text NOT NULL,
    rating                    integer NOT NULL,
    productivity_gain         boolean,
    minutes_saved_per_day     integer,
    new_business_opportunity  boolean,
    opportunity_text          text,
    team_productivity_gain    boolean,
    career_benefit            boolean,
    confidential_comment      text,
    submitted_at              timestamptz NOT NULL
);
CREATE INDEX feedback_programme ON feedback (programme_id);
