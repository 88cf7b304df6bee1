-- When the retention purge last failed to delete a stored image's file: the purge passes such an image over for an
-- hour, so files that cannot be deleted never fill its batches and stop it from reaching the others.
-- AlterTable
ALTER TABLE "stored_images" ADD COLUMN     "purge_failed_at" TIMESTAMPTZ(3);
