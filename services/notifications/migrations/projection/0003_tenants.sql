-- The projection keeps each tenant's people, programmes, pairs, sessions and flags apart: every row carries its
-- event's tenant and every key starts with it (the same participant or pair id in two tenants is two things).
-- Rows from before are the 'default' tenant's; `tandem replay` rebuilds them with their events' tenants.
ALTER TABLE recipients ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE recipients ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE recipients DROP CONSTRAINT recipients_pkey;
ALTER TABLE recipients ADD PRIMARY KEY (tenant, participant_id);
-- a participant reaches their own preferences and history by their employee id
CREATE INDEX recipients_employee ON recipients (tenant, employee_id);

ALTER TABLE programmes ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE programmes ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE programmes DROP CONSTRAINT programmes_pkey;
ALTER TABLE programmes ADD PRIMARY KEY (tenant, programme_id);

ALTER TABLE pairs ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE pairs ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE pairs DROP CONSTRAINT pairs_pkey;
ALTER TABLE pairs ADD PRIMARY KEY (tenant, pair_id);
CREATE INDEX pairs_programme ON pairs (tenant, programme_id, state);

ALTER TABLE sessions ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE sessions ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey;
ALTER TABLE sessions ADD PRIMARY KEY (tenant, session_id);
DROP INDEX sessions_pair;
CREATE INDEX sessions_pair ON sessions (tenant, pair_id, held_at);

ALTER TABLE flags ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE flags ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE flags DROP CONSTRAINT flags_pkey;
ALTER TABLE flags ADD PRIMARY KEY (tenant, pair_id);
DROP INDEX flags_programme;
CREATE INDEX flags_programme ON flags (tenant, programme_id);
