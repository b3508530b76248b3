-- Which generation of the projection schema is live. `tandem replay` bumps it when it swaps a rebuilt
-- projection in; consumers check it in every batch (under a shared advisory lock the swap takes
-- exclusively) and drop connections whose cached statements still point at the old tables.
CREATE TABLE projection_state (
    id          integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    generation  bigint NOT NULL DEFAULT 0,
    swapped_at  timestamptz,
    history     jsonb NOT NULL DEFAULT '[]'
);
INSERT INTO projection_state (id) VALUES (1);
