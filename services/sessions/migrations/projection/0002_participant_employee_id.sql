-- The employee id of each participant (ParticipantEnrolled / ParticipantUpdated carry it): learning
-- records name the employee for the HR platform. Rows applied before this column existed stay NULL
-- until `tandem replay sessions` rebuilds the projection.
ALTER TABLE participants ADD COLUMN employee_id text;
