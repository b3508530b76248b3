-- The SCIM side of a directory record. A SCIM client deleting a User makes the employee leave; the record
-- stays (the audit trail), the SCIM resource is gone: its id answers 404 and lists leave it out. A User
-- created again for that person gets a new id and a new creation time.
ALTER TABLE employees ADD COLUMN scim_created_at timestamptz;
ALTER TABLE employees ADD COLUMN scim_deleted_at timestamptz;
