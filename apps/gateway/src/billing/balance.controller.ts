import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { DeferredSettlements, microsToUsd } from '@app/billing';
import { Auth, type AuthContext, TenantService } from '@app/tenancy';

class BalanceResponse {
  @ApiProperty({ example: 'balance' }) object!: 'balance';
  @ApiProperty({ example: 9.75, description: 'credits minus settled usage, USD' }) balance_usd!: number;
  @ApiProperty({ example: 0.02, description: 'held by requests in flight, USD' }) reserved_usd!: number;
  @ApiProperty({ example: 9.73, description: 'what new requests may spend, USD' }) available_usd!: number;
}

@ApiTags('Billing')
@ApiBearerAuth('bearer')
@ApiSecurity('x-goog-api-key')
@Controller('v1')
export class BalanceController {
  constructor(
    private readonly tenants: TenantService,
    private readonly settlements: DeferredSettlements,
  ) {}

  @Get('balance')
  @ApiOperation({ summary: "The calling tenant's balance" })
  @ApiOkResponse({ type: BalanceResponse })
  async balance(@Auth() auth: AuthContext): Promise<BalanceResponse> {
    await this.settlements.flush(auth.tenantId);
    const t = await this.tenants.get(auth.tenantId);
    return {
      object: 'balance',
      balance_usd: microsToUsd(t.balanceMicros),
      reserved_usd: microsToUsd(t.reservedMicros),
      available_usd: microsToUsd(t.balanceMicros - t.reservedMicros),
    };
  }
}
