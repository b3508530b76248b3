-- The participant portal: each person's language (ParticipantProfile.locale) and why a pair was made
-- (PairCreated.rationale). Rows applied before these columns existed read 'en' and '' until
-- `tandem replay sessions` rebuilds the projection from the events.
ALTER TABLE participants ADD COLUMN locale text NOT NULL DEFAULT 'en';
ALTER TABLE pairs ADD COLUMN rationale text NOT NULL DEFAULT '';
