-- The worst case held for an image job when it was accepted: a worker that claims the job after its hold lapsed
-- (the sweeper released it while the job waited in the queue) holds this amount again before any upstream call.
-- AlterTable
ALTER TABLE "image_jobs" ADD COLUMN     "reserved_micros" BIGINT;
