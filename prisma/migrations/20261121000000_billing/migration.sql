-- AlterTable
ALTER TABLE "usage_records" ADD COLUMN     "cached_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "error" TEXT,
ADD COLUMN     "estimated" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "image_input_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "image_output_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "images" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "input_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "output_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "reasoning_tokens" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE INDEX "usage_records_api_key_id_created_at_idx" ON "usage_records"("api_key_id", "created_at");


-- Reservations never go negative: a release or settle that would make them so is a bug, not a state.
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_reserved_nonnegative" CHECK ("reserved_micros" >= 0);
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_reserved_nonnegative" CHECK ("reserved_micros" >= 0);

-- Reserve spend for one request in one atomic, conditional statement (one round trip): the tenant's
-- available balance and the key's remaining spend limit must both cover the amount, or nothing changes.
-- A refusal raises (SQLSTATE P0001) with the reason as the message, which rolls back the whole call.
CREATE FUNCTION "sy_reserve"(p_id TEXT, p_tenant UUID, p_key UUID, p_amount BIGINT, p_expires TIMESTAMPTZ)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "tenants" SET "reserved_micros" = "reserved_micros" + p_amount
   WHERE "id" = p_tenant AND "balance_micros" - "reserved_micros" >= p_amount;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'insufficient_balance' USING ERRCODE = 'P0001';
  END IF;
  IF p_key IS NOT NULL THEN
    UPDATE "api_keys" SET "reserved_micros" = "reserved_micros" + p_amount
     WHERE "id" = p_key
       AND ("spend_limit_micros" IS NULL OR "spend_limit_micros" - "spent_micros" - "reserved_micros" >= p_amount);
    IF NOT FOUND THEN
      RAISE EXCEPTION 'spend_limit_exceeded' USING ERRCODE = 'P0001';
    END IF;
  END IF;
  INSERT INTO "reservations" ("id", "tenant_id", "api_key_id", "amount_micros", "expires_at")
  VALUES (p_id, p_tenant, p_key, p_amount, p_expires);
END;
$$;
