-- A pair's rationale as reasons with stable codes (PairCreated.reasons), worded in the recipient's language; pairs
-- from before have none and show their English sentence.
ALTER TABLE pairs ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';
-- When the pair began, if before it was recorded (PairCreated.started_on): it is welcomed as one that moved in.
ALTER TABLE pairs ADD COLUMN started_on date;

-- Who has answered the feedback for which session (FeedbackSubmitted): a feedback request goes only to someone who
-- has not. `tandem replay` rebuilds it from the sessions topic.
CREATE TABLE feedback_given (
    tenant      text NOT NULL,
    session_id  text NOT NULL,
    author_id   text NOT NULL,
    PRIMARY KEY (tenant, session_id, author_id)
);
