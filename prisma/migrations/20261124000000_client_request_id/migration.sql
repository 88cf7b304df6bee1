-- The id a client gave its request (X-Client-Request-Id or X-Request-Id), kept for correlation only.
ALTER TABLE "usage_records" ADD COLUMN "client_request_id" TEXT;
ALTER TABLE "image_jobs" ADD COLUMN "client_request_id" TEXT;
