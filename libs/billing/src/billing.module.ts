import { Global, Module } from '@nestjs/common';
import { BillingService } from './billing.service';
import { DeferredSettlements } from './deferred-settlements.service';
import { LedgerService } from './ledger.service';
import { PriceBook } from './pricing/price-book.service';
import { ReservationSweeper } from './reservation-sweeper.service';
import { UsageService } from './usage.service';

const SERVICES = [BillingService, DeferredSettlements, LedgerService, PriceBook, ReservationSweeper, UsageService];

@Global()
@Module({ providers: SERVICES, exports: SERVICES })
export class BillingModule {}
