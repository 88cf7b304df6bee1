import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsString, Min, ValidateNested } from 'class-validator';
import { ApiError } from '@app/common';
import { validationPipe } from './validation';

class Item {
  @IsString() name!: string;
  @IsInt() @Min(1) n!: number;
}

class Body {
  @ValidateNested({ each: true }) @Type(() => Item) items!: Item[];
  @ValidateNested() @Type(() => Item) one!: Item;
}

async function refusal(value: unknown): Promise<ApiError> {
  try {
    await validationPipe().transform(value, { type: 'body', metatype: Body });
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('validationPipe', () => {
  it('names an element of a list with brackets, as the tenant writes it', async () => {
    const e = await refusal({ items: [{ name: 'a', n: 1 }, { name: 'b', n: 0 }], one: { name: 'c', n: 1 } });
    expect(e.status).toBe(400);
    expect(e.param).toBe('items[1].n');
    expect(e.message).toBe('Invalid request: items[1].n must not be less than 1.');
  });

  it('names a field of a nested object with a dot', async () => {
    const e = await refusal({ items: [], one: { name: 7, n: 1 } });
    expect(e.param).toBe('one.name');
    expect(e.message).toBe('Invalid request: one.name must be a string.');
  });
});
