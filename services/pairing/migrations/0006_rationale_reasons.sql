-- A pair's and a proposal's rationale as reasons with stable codes (docs/rationale-reasons.md), beside the English
-- sentence, so that mails and the HR console word them in the reader's language. Rows from before have none (their
-- readers fall back to the sentence).
ALTER TABLE pairs ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';
ALTER TABLE proposals ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';
