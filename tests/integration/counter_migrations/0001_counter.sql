-- A deliberately non-idempotent projection: every application adds one. Only the inbox keeps it right.
CREATE TABLE counters (name text PRIMARY KEY, n integer NOT NULL);
