-- Conversion jobs are claimed with leases (issue 15): a running job belongs
-- to lease_owner (a server's id) until lease_until (microseconds); the owner
-- renews it while converting, and another server may claim a running job
-- whose lease has ended (its owner died).
ALTER TABLE jobs
	ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '',
	ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
