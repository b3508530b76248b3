-- Since when each pair has been active without a break: when it began (PairCreated's started_on, when earlier
-- than its recording), or its latest resumption after a pause. A pair's quiet clock (nudges, HR's at-risk list)
-- starts at its last session held, or here when that is later, as the sessions service counts it.
-- Rows from before take their creation; `tandem replay` rebuilds them from the events.
ALTER TABLE pairs ADD COLUMN active_since timestamptz;
UPDATE pairs SET active_since = created_at;
ALTER TABLE pairs ALTER COLUMN active_since SET NOT NULL;
