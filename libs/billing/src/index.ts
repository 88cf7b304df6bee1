export * from './money';
export * from './ledger.service';
export * from './reservation-sweeper.service';
export * from './billing.module';
