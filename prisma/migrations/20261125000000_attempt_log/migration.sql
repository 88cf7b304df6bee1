-- Every upstream attempt a request made (model, outcome, error kind, upstream status, duration), in order.
ALTER TABLE "usage_records" ADD COLUMN "attempt_log" JSONB NOT NULL DEFAULT '[]';
