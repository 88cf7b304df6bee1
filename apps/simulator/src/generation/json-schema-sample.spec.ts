import { sampleFromSchema } from './json-schema-sample';

describe('sampleFromSchema', () => {
  it('fills every property with a value of the declared type, within bounds and enums', () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 12 },
        count: { type: 'integer', minimum: 3, maximum: 5 },
        ratio: { type: 'number', minimum: 0, maximum: 1 },
        ok: { type: 'boolean' },
        unit: { enum: ['c', 'f'] },
        tags: { type: 'array', items: { type: 'string' }, minItems: 3 },
        when: { type: 'string', format: 'date-time' },
        maybe: { type: ['null', 'integer'] },
      },
    };
    const value = sampleFromSchema(schema, 42) as Record<string, unknown>;
    expect(typeof value['name']).toBe('string');
    expect(String(value['name']).length).toBeGreaterThanOrEqual(12);
    expect(Number.isInteger(value['count'])).toBe(true);
    expect(value['count']).toBeGreaterThanOrEqual(3);
    expect(value['count']).toBeLessThanOrEqual(5);
    expect(value['ratio']).toBeGreaterThanOrEqual(0);
    expect(value['ratio']).toBeLessThanOrEqual(1);
    expect(typeof value['ok']).toBe('boolean');
    expect(['c', 'f']).toContain(value['unit']);
    expect(value['tags']).toHaveLength(3);
    expect(Number.isNaN(Date.parse(String(value['when'])))).toBe(false);
    expect(Number.isInteger(value['maybe'])).toBe(true);
  });

  it('reads Gemini upper-case types, $ref, anyOf and allOf', () => {
    expect(typeof sampleFromSchema({ type: 'OBJECT', properties: { a: { type: 'STRING' } } }, 1)).toBe('object');
    const withRef = { type: 'object', properties: { item: { $ref: '#/$defs/Item' } }, $defs: { Item: { type: 'object', properties: { id: { type: 'integer' } } } } };
    expect(Number.isInteger((sampleFromSchema(withRef, 1) as { item: { id: unknown } }).item.id)).toBe(true);
    expect(typeof sampleFromSchema({ anyOf: [{ type: 'null' }, { type: 'number' }] }, 1)).toBe('number');
    const merged = sampleFromSchema({ allOf: [{ properties: { a: { type: 'string' } } }, { properties: { b: { type: 'boolean' } } }] }, 1);
    expect(merged).toEqual({ a: expect.any(String), b: expect.any(Boolean) });
  });

  it('is deterministic for a seed', () => {
    const schema = { type: 'object', properties: { x: { type: 'number' }, y: { type: 'string' } } };
    expect(sampleFromSchema(schema, 7)).toEqual(sampleFromSchema(schema, 7));
  });
});
