-- Why a pair was made, as reasons with stable codes (PairCreated.reasons): the portal words them in the person's
-- language. Pairs applied before read [] (the English rationale is shown) until `tandem replay sessions`.
ALTER TABLE pairs ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';
