-- Erasure (GDPR art. 17) and retention of free text (issue 16).

-- Who was erased, when, why and by whom: a second erasure answers 409 with this. Ids only.
CREATE TABLE erasures (
    tenant           text        NOT NULL,
    employee_id      text        NOT NULL,
    reason           text        NOT NULL,
    requested_by     text        NOT NULL,
    participant_ids  text[]      NOT NULL DEFAULT '{}',
    pair_ids         text[]      NOT NULL DEFAULT '{}',
    erased_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, employee_id)
);

-- A tenant's retention policy: free text of a programme is deleted this many months after it closed.
CREATE TABLE retention_policies (
    tenant            text        PRIMARY KEY,
    free_text_months  integer     NOT NULL CHECK (free_text_months BETWEEN 1 AND 120),
    set_by            text        NOT NULL,
    set_at            timestamptz NOT NULL DEFAULT now()
);

-- When a programme closed (retention counts from it), and when its free text expired.
ALTER TABLE programmes ADD COLUMN closed_at timestamptz;
UPDATE programmes SET closed_at = updated_at WHERE state = 'closed';
ALTER TABLE programmes ADD COLUMN free_text_expired_at timestamptz;
CREATE INDEX programmes_closed ON programmes (tenant, closed_at) WHERE state = 'closed' AND free_text_expired_at IS NULL;
