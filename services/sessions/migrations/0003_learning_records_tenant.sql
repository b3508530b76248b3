-- One learning record per participant and programme of a tenant: the same ids in two tenants are two
-- participations (record ids name the tenant too, see domain/learning.py).
ALTER TABLE learning_records
    DROP CONSTRAINT learning_records_participant_id_programme_id_key,
    ADD CONSTRAINT learning_records_participation UNIQUE (tenant, participant_id, programme_id);
