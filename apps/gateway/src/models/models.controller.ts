import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiError } from '@app/common';
import { ModelCatalog, toGeminiModelList, toOpenAiModelList } from '@app/providers';
import { ModelAccess } from '@app/routing';
import { Auth, type AuthContext } from '@app/tenancy';

/** The catalog has no per-model release dates; every model reports the catalog's own date. */
const CATALOG_CREATED = Math.floor(Date.UTC(2026, 10, 20) / 1000);

function joinWildcard(param: string | string[]): string {
  return Array.isArray(param) ? param.join('/') : param;
}

@ApiBearerAuth('bearer')
@ApiSecurity('x-goog-api-key')
@Controller()
export class ModelsController {
  constructor(
    private readonly catalog: ModelCatalog,
    private readonly access: ModelAccess,
  ) {}

  @Get('v1/models')
  @ApiTags('Models')
  @ApiOperation({ summary: 'Models this key may call, with capabilities, list prices and announced retirements (OpenAI list shape)' })
  list(@Auth() auth: AuthContext) {
    return toOpenAiModelList(this.access.visible(auth.allowedModels), { created: CATALOG_CREATED });
  }

  @Get('v1/models/*model')
  @ApiTags('Models')
  @ApiOperation({ summary: 'One model (ids contain a slash: /v1/models/openai/gpt-4o-mini)' })
  one(@Auth() auth: AuthContext, @Param('model') model: string | string[]) {
    const m = this.catalog.resolve(joinWildcard(model));
    if (!m || !this.access.isAllowed(auth.allowedModels, m)) {
      throw ApiError.notFound(`The model '${joinWildcard(model).slice(0, 200)}' does not exist or you do not have access to it.`, 'model_not_found', 'model');
    }
    return toOpenAiModelList([m], { created: CATALOG_CREATED }).data[0];
  }

  @Get('v1beta/models')
  @ApiTags('Gemini')
  @ApiOperation({ summary: "Models callable on the Gemini-native route (Google's list shape)" })
  listGemini(@Auth() auth: AuthContext) {
    return toGeminiModelList(this.access.visible(auth.allowedModels));
  }

  @Get('v1beta/models/*model')
  @ApiTags('Gemini')
  @ApiOperation({ summary: "One model in Google's shape (the google/ prefix is optional)" })
  oneGemini(@Auth() auth: AuthContext, @Param('model') model: string | string[]) {
    const name = joinWildcard(model);
    const m = this.catalog.resolve(name);
    const entry = m && this.access.isAllowed(auth.allowedModels, m) ? toGeminiModelList([m]).models[0] : undefined;
    if (!entry) throw ApiError.notFound(`models/${name.slice(0, 200)} is not found or is not supported for generateContent.`, 'model_not_found');
    return entry;
  }
}
