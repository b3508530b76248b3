-- The employee directory of every tenant: all employees of the organisation, not only participants.
-- Fed by SCIM, HR events and full-file syncs; its history is the tandem.directory topic.
CREATE TABLE employees (
    tenant               text NOT NULL,
    employee_id          text NOT NULL,
    scim_id              uuid NOT NULL DEFAULT gen_random_uuid(),
    external_id          text,
    user_name            text NOT NULL,
    display_name         text NOT NULL,
    email                text NOT NULL,
    department           text,
    grade                integer,
    manager_employee_id  text,
    location             text,
    timezone             text NOT NULL,
    languages            text[] NOT NULL DEFAULT '{}',
    locale               text NOT NULL,
    status               text NOT NULL CHECK (status IN ('active', 'on_leave', 'left')),
    hired_on             date,
    left_on              date,
    -- when the latest change took effect at its source (older changes are ignored), and the revision it made
    effective_at         timestamptz NOT NULL,
    revision             bigint NOT NULL,
    -- SCIM attributes Tandem keeps as provisioned (name parts, phone numbers...), served back verbatim
    scim                 jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, employee_id)
);
CREATE UNIQUE INDEX employees_scim_id ON employees (tenant, scim_id);
CREATE UNIQUE INDEX employees_user_name ON employees (tenant, lower(user_name));
CREATE UNIQUE INDEX employees_external_id ON employees (tenant, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX employees_manager ON employees (tenant, manager_employee_id);
CREATE INDEX employees_email ON employees (tenant, lower(email));

-- Every change to a tenant's directory takes the next revision; a match run records the one it read.
CREATE TABLE directory_revisions (
    tenant    text PRIMARY KEY,
    revision  bigint NOT NULL DEFAULT 0
);

-- Integration clients (SCIM provisioning, HR file upload) send a bearer token of their tenant.
-- Only its SHA-256 is kept.
CREATE TABLE integration_tokens (
    token_hash  text PRIMARY KEY,
    tenant      text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- The reporting chain now comes from the directory alone.
DROP TABLE org_chart;

-- Programmes, participants, pairs and match runs are keyed by tenant: the same id in two tenants is two things.
ALTER TABLE participants DROP CONSTRAINT participants_programme_id_fkey;
ALTER TABLE match_runs DROP CONSTRAINT match_runs_programme_id_fkey;
ALTER TABLE proposals DROP CONSTRAINT proposals_match_run_id_fkey;

ALTER TABLE programmes DROP CONSTRAINT programmes_pkey;
ALTER TABLE programmes ADD PRIMARY KEY (tenant, programme_id);

ALTER TABLE participants DROP CONSTRAINT participants_pkey;
ALTER TABLE participants ADD PRIMARY KEY (tenant, participant_id);
ALTER TABLE participants ADD FOREIGN KEY (tenant, programme_id) REFERENCES programmes (tenant, programme_id);
DROP INDEX participants_once;
CREATE UNIQUE INDEX participants_once ON participants (tenant, programme_id, employee_id) WHERE status = 'enrolled';
DROP INDEX participants_programme;
CREATE INDEX participants_programme ON participants (tenant, programme_id, role, status);
CREATE INDEX participants_employee ON participants (tenant, employee_id) WHERE status = 'enrolled';

ALTER TABLE pairs DROP CONSTRAINT pairs_pkey;
ALTER TABLE pairs ADD PRIMARY KEY (tenant, pair_id);
DROP INDEX pairs_live_once;
CREATE UNIQUE INDEX pairs_live_once ON pairs (tenant, programme_id, mentor_id, mentee_id)
    WHERE state IN ('proposed', 'active', 'paused');
DROP INDEX pairs_programme;
CREATE INDEX pairs_programme ON pairs (tenant, programme_id, state);
CREATE INDEX pairs_mentor ON pairs (tenant, mentor_id) WHERE state IN ('proposed', 'active', 'paused');
CREATE INDEX pairs_mentee ON pairs (tenant, mentee_id) WHERE state IN ('proposed', 'active', 'paused');
-- Why a pair is paused: by hand, for a leave of absence, or by a reorganisation flag.
ALTER TABLE pairs ADD COLUMN pause_cause text CHECK (pause_cause IN ('manual', 'leave', 'flag'));
UPDATE pairs SET pause_cause = 'manual' WHERE state = 'paused';
-- A hard rule the pair breaks since a directory change, and HR's decision to keep it anyway.
ALTER TABLE pairs ADD COLUMN flag jsonb;
ALTER TABLE pairs ADD COLUMN flag_override jsonb;
CREATE INDEX pairs_flagged ON pairs (tenant, programme_id) WHERE flag IS NOT NULL;

ALTER TABLE match_runs ADD COLUMN tenant text;
UPDATE match_runs m SET tenant = p.tenant FROM programmes p WHERE p.programme_id = m.programme_id;
ALTER TABLE match_runs ALTER COLUMN tenant SET NOT NULL;
ALTER TABLE match_runs DROP CONSTRAINT match_runs_pkey;
ALTER TABLE match_runs ADD PRIMARY KEY (tenant, match_run_id);
ALTER TABLE match_runs ADD FOREIGN KEY (tenant, programme_id) REFERENCES programmes (tenant, programme_id);
ALTER TABLE match_runs ADD COLUMN directory_revision bigint;
ALTER TABLE match_runs ADD COLUMN org_chart_hash text;

ALTER TABLE proposals ADD COLUMN tenant text;
UPDATE proposals x SET tenant = m.tenant FROM match_runs m WHERE m.match_run_id = x.match_run_id;
ALTER TABLE proposals ALTER COLUMN tenant SET NOT NULL;
ALTER TABLE proposals DROP CONSTRAINT proposals_pkey;
ALTER TABLE proposals ADD PRIMARY KEY (tenant, proposal_id);
ALTER TABLE proposals ADD FOREIGN KEY (tenant, match_run_id) REFERENCES match_runs (tenant, match_run_id);
DROP INDEX proposals_run;
CREATE INDEX proposals_run ON proposals (tenant, match_run_id);
