-- A small projection for testing replay: pairs with their state and event count, participants.
CREATE TABLE pairs (
    pair_id       text PRIMARY KEY,
    programme_id  text NOT NULL,
    state         text NOT NULL,
    events        integer NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE TABLE participants (
    participant_id  text PRIMARY KEY,
    display_name    text NOT NULL,
    languages       text[] NOT NULL
);
