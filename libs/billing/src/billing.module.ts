import { Global, Module } from '@nestjs/common';
import { LedgerService } from './ledger.service';
import { ReservationSweeper } from './reservation-sweeper.service';

@Global()
@Module({ providers: [LedgerService, ReservationSweeper], exports: [LedgerService, ReservationSweeper] })
export class BillingModule {}
