import type { ModelCatalog, ModelSpec } from '@app/providers';

/**
 * A key's `allowed_models`: empty means every model; otherwise each entry may be a public id or an alias,
 * and a model is allowed when one entry names it.
 */
export class ModelAccess {
  constructor(private readonly catalog: ModelCatalog) {}

  allowedIds(allowedModels: readonly string[]): Set<string> | null {
    if (allowedModels.length === 0) return null;
    const ids = new Set<string>();
    for (const name of allowedModels) {
      const m = this.catalog.resolve(name);
      if (m) ids.add(m.id);
    }
    return ids;
  }

  isAllowed(allowedModels: readonly string[], model: ModelSpec): boolean {
    const ids = this.allowedIds(allowedModels);
    return ids === null || ids.has(model.id);
  }

  visible(allowedModels: readonly string[]): ModelSpec[] {
    const ids = this.allowedIds(allowedModels);
    return this.catalog.list().filter((m) => ids === null || ids.has(m.id));
  }
}
