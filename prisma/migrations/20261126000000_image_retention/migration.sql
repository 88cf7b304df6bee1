-- When the retention purge (IMAGE_RETENTION_HOURS) deleted a job's stored images; the job and its usage record stay.
-- AlterTable
ALTER TABLE "image_jobs" ADD COLUMN     "images_expired_at" TIMESTAMPTZ(3);

-- The purge looks for the oldest stored images.
-- CreateIndex
CREATE INDEX "stored_images_created_at_idx" ON "stored_images"("created_at");
