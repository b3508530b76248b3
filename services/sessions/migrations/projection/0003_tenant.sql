-- Tenant isolation: every row names the tenant of the event that wrote it, and every key is per tenant, so
-- the same id in two tenants is two different things. Rows applied before this migration are given
-- 'default' (TANDEM_TENANT's default); `tandem replay sessions` rebuilds them with each event's own tenant.
-- The column keeps no default: a writer that forgets the tenant fails instead of guessing.
-- The programme's small-group floor (ProgramLaunched.min_group_size; events without it mean 5).

ALTER TABLE programmes ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE programmes ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE programmes ADD COLUMN min_group_size integer NOT NULL DEFAULT 5;
ALTER TABLE programmes DROP CONSTRAINT programmes_pkey, ADD PRIMARY KEY (tenant, programme_id);

ALTER TABLE participants ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE participants ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE participants DROP CONSTRAINT participants_pkey, ADD PRIMARY KEY (tenant, participant_id);
-- A signed-in participant is found by the employee id in their token.
CREATE INDEX participants_employee ON participants (tenant, employee_id);
CREATE INDEX participants_programme ON participants (tenant, programme_id);

ALTER TABLE pairs ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE pairs ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE pairs DROP CONSTRAINT pairs_pkey, ADD PRIMARY KEY (tenant, pair_id);
DROP INDEX pairs_programme;
CREATE INDEX pairs_programme ON pairs (tenant, programme_id);

ALTER TABLE pair_changes ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE pair_changes ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE pair_changes DROP CONSTRAINT pair_changes_pkey, ADD PRIMARY KEY (tenant, event_id);
DROP INDEX pair_changes_pair;
CREATE INDEX pair_changes_pair ON pair_changes (tenant, pair_id, at);

ALTER TABLE agreements ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE agreements ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE agreements DROP CONSTRAINT agreements_pkey, ADD PRIMARY KEY (tenant, pair_id, role);

ALTER TABLE goals ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE goals ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE goals DROP CONSTRAINT goals_pkey, ADD PRIMARY KEY (tenant, goal_id);
DROP INDEX goals_programme;
CREATE INDEX goals_programme ON goals (tenant, programme_id);
CREATE INDEX goals_pair ON goals (tenant, pair_id);

ALTER TABLE confidence ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE confidence ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE confidence DROP CONSTRAINT confidence_pkey, ADD PRIMARY KEY (tenant, pair_id, participant_id, phase);
CREATE INDEX confidence_programme ON confidence (tenant, programme_id);

ALTER TABLE sessions ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE sessions ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey, ADD PRIMARY KEY (tenant, session_id);
DROP INDEX sessions_pair;
DROP INDEX sessions_programme;
CREATE INDEX sessions_pair ON sessions (tenant, pair_id);
CREATE INDEX sessions_programme ON sessions (tenant, programme_id, held_at);

ALTER TABLE feedback ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE feedback ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE feedback DROP CONSTRAINT feedback_pkey, ADD PRIMARY KEY (tenant, feedback_id);
DROP INDEX feedback_programme;
CREATE INDEX feedback_programme ON feedback (tenant, programme_id);
CREATE INDEX feedback_pair ON feedback (tenant, pair_id);
