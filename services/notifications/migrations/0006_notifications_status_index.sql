-- /metrics shows the notifications by state every few seconds (tandem_notifications{state}): an index on the
-- state lets that count read the index alone instead of the whole table.
CREATE INDEX notifications_status ON notifications (status);
