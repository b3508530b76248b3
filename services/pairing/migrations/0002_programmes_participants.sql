CREATE TABLE programmes (
    programme_id      text PRIMARY KEY,
    tenant            text NOT NULL,
    name              text NOT NULL,
    starts_on         date NOT NULL,
    ends_on           date NOT NULL,
    cadence_days      integer NOT NULL,
    focus_topics      text[] NOT NULL,
    matching_policy   jsonb NOT NULL DEFAULT '{}',
    requires_consent  boolean NOT NULL DEFAULT false,
    consent_days      integer NOT NULL DEFAULT 7,
    hr_contact_email  text,
    state             text NOT NULL CHECK (state IN ('draft', 'enrolling', 'matching', 'running', 'closed')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE participants (
    participant_id  text PRIMARY KEY,
    tenant          text NOT NULL,
    programme_id    text NOT NULL REFERENCES programmes,
    employee_id     text NOT NULL,
    role            text NOT NULL CHECK (role IN ('mentor', 'mentee')),
    profile         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('enrolled', 'withdrawn')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- One enrolment per employee and programme while enrolled.
CREATE UNIQUE INDEX participants_once ON participants (programme_id, employee_id) WHERE status = 'enrolled';
CREATE INDEX participants_programme ON participants (programme_id, role, status);

-- The reporting chain, from enrolments and the HR feed; it includes people outside any programme.
CREATE TABLE org_chart (
    employee_id          text PRIMARY KEY,
    manager_employee_id  text,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE match_runs (
    match_run_id       text PRIMARY KEY,
    programme_id       text NOT NULL REFERENCES programmes,
    kind               text NOT NULL DEFAULT 'full' CHECK (kind IN ('full', 'rematch')),
    algorithm_version  text NOT NULL,
    objective          text NOT NULL,
    policy             jsonb NOT NULL,
    unmatched          jsonb NOT NULL,
    conflicts          jsonb NOT NULL DEFAULT '[]',
    total_score        double precision NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE proposals (
    proposal_id   text PRIMARY KEY,
    match_run_id  text NOT NULL REFERENCES match_runs,
    programme_id  text NOT NULL,
    mentor_id     text NOT NULL,
    mentee_id     text NOT NULL,
    score         double precision NOT NULL,
    components    jsonb NOT NULL,
    rationale     text NOT NULL,
    forced        boolean NOT NULL DEFAULT false,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'superseded')),
    pair_id       text
);
CREATE INDEX proposals_run ON proposals (match_run_id);

ALTER TABLE pairs ADD COLUMN mentor_consent boolean;
ALTER TABLE pairs ADD COLUMN mentee_consent boolean;
ALTER TABLE pairs ADD COLUMN consent_deadline timestamptz;
ALTER TABLE pairs ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
ALTER TABLE pairs ADD COLUMN extended_until date;
ALTER TABLE pairs ADD COLUMN started_on date;
ALTER TABLE pairs DROP CONSTRAINT pairs_state_check;
ALTER TABLE pairs ADD CONSTRAINT pairs_state_check
    CHECK (state IN ('proposed', 'active', 'paused', 'ended', 'declined'));
