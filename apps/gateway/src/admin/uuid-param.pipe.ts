import { Injectable, PipeTransform } from '@nestjs/common';
import { ApiError } from '@app/common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id that is not a UUID cannot exist: answer 404 rather than letting the database reject it. */
@Injectable()
export class UuidParam implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!UUID.test(value)) throw ApiError.notFound(`No object with id ${value.slice(0, 64)}.`);
    return value.toLowerCase();
  }
}
