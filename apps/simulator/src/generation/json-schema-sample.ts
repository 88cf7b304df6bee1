/**
 * Builds a value that satisfies a JSON Schema (the subset used by tool parameters, OpenAI `json_schema`
 * response formats, Anthropic `input_schema` and Gemini's OpenAPI-style `responseSchema`, whose type names
 * are upper-case). Values are deterministic for a given seed.
 */
import { seededRandom } from './deterministic';

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOf(schema: Schema): string | undefined {
  const t = schema['type'];
  if (typeof t === 'string') return t.toLowerCase();
  if (Array.isArray(t)) {
    const first = t.find((x): x is string => typeof x === 'string' && x.toLowerCase() !== 'null');
    return (first ?? 'null').toLowerCase();
  }
  if (isSchema(schema['properties'])) return 'object';
  if (schema['items'] !== undefined) return 'array';
  return undefined;
}

function resolveRef(ref: string, root: Schema): Schema | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    if (!isSchema(node)) return undefined;
    node = node[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return isSchema(node) ? node : undefined;
}

const SAMPLE_WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

export function sampleFromSchema(schema: unknown, seed: number): unknown {
  const rnd = seededRandom(seed);
  const root = isSchema(schema) ? schema : {};
  return sample(root, root, rnd, 0, 'value');
}

function sample(schema: Schema, root: Schema, rnd: () => number, depth: number, name: string): unknown {
  if (depth > 8) return null;
  if (typeof schema['$ref'] === 'string') {
    const target = resolveRef(schema['$ref'], root);
    return target ? sample(target, root, rnd, depth + 1, name) : null;
  }
  if ('const' in schema) return schema['const'];
  const enumValues = schema['enum'];
  if (Array.isArray(enumValues) && enumValues.length > 0) {
    return enumValues[Math.floor(rnd() * enumValues.length)];
  }
  for (const key of ['anyOf', 'oneOf']) {
    const options = schema[key];
    if (Array.isArray(options)) {
      const first = options.find((o) => isSchema(o) && typeOf(o) !== 'null') ?? options[0];
      if (isSchema(first)) return sample(first, root, rnd, depth + 1, name);
    }
  }
  const allOf = schema['allOf'];
  if (Array.isArray(allOf)) {
    const merged: Schema = {};
    const properties: Schema = {};
    const required: string[] = [];
    for (const part of allOf) {
      if (!isSchema(part)) continue;
      Object.assign(merged, part);
      if (isSchema(part['properties'])) Object.assign(properties, part['properties']);
      if (Array.isArray(part['required'])) required.push(...part['required'].filter((r): r is string => typeof r === 'string'));
    }
    delete merged['allOf'];
    if (Object.keys(properties).length > 0) {
      merged['type'] = 'object';
      merged['properties'] = properties;
      merged['required'] = required;
    }
    return sample(merged, root, rnd, depth + 1, name);
  }

  switch (typeOf(schema)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = isSchema(schema['properties']) ? schema['properties'] : {};
      // Every declared property is filled: strict-mode schemas require all of them, and extra optional
      // values never violate a schema.
      for (const [key, sub] of Object.entries(props)) {
        out[key] = isSchema(sub) ? sample(sub, root, rnd, depth + 1, key) : null;
      }
      return out;
    }
    case 'array': {
      const items = isSchema(schema['items']) ? schema['items'] : {};
      const min = typeof schema['minItems'] === 'number' ? schema['minItems'] : 1;
      const max = typeof schema['maxItems'] === 'number' ? schema['maxItems'] : Math.max(min, 2);
      const count = Math.max(min, Math.min(max, 2));
      return Array.from({ length: count }, () => sample(items, root, rnd, depth + 1, name));
    }
    case 'integer': {
      const min = typeof schema['minimum'] === 'number' ? Math.ceil(schema['minimum']) : 0;
      const max = typeof schema['maximum'] === 'number' ? Math.floor(schema['maximum']) : min + 100;
      return min + Math.floor(rnd() * (max - min + 1));
    }
    case 'number': {
      const min = typeof schema['minimum'] === 'number' ? schema['minimum'] : 0;
      const max = typeof schema['maximum'] === 'number' ? schema['maximum'] : min + 100;
      return Math.round((min + rnd() * (max - min)) * 100) / 100;
    }
    case 'boolean':
      return rnd() < 0.5;
    case 'null':
      return null;
    case 'string':
      return sampleString(schema, rnd, name);
    default:
      return sampleString(schema, rnd, name);
  }
}

function sampleString(schema: Schema, rnd: () => number, name: string): string {
  switch (schema['format']) {
    case 'date-time':
      return '2025-01-15T12:00:00Z';
    case 'date':
      return '2025-01-15';
    case 'time':
      return '12:00:00';
    case 'email':
      return 'user@example.com';
    case 'uri':
    case 'url':
      return 'https://example.com/resource';
    case 'uuid':
      return '123e4567-e89b-42d3-a456-426614174000';
    default:
      break;
  }
  let value = `${name}-${SAMPLE_WORDS[Math.floor(rnd() * SAMPLE_WORDS.length)] ?? 'alpha'}`;
  const min = typeof schema['minLength'] === 'number' ? schema['minLength'] : 0;
  const max = typeof schema['maxLength'] === 'number' ? schema['maxLength'] : Infinity;
  while (value.length < min) value += 'x';
  if (value.length > max) value = value.slice(0, max);
  return value;
}
