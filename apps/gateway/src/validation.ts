import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError } from '@app/common';

/** A field's path as the tenant writes it: `items[2].name`, not class-validator's `items.2.name`. */
function childPath(parent: string, property: string): string {
  if (/^\d+$/.test(property)) return `${parent}[${property}]`;
  return parent ? `${parent}.${property}` : property;
}

function firstProblem(errors: ValidationError[], parent = ''): { param: string; message: string } | null {
  for (const e of errors) {
    const path = childPath(parent, e.property);
    if (e.constraints) {
      const message = Object.values(e.constraints)[0];
      return { param: path, message: message.startsWith(e.property) ? message.replace(e.property, path) : `${path}: ${message}` };
    }
    const nested = firstProblem(e.children ?? [], path);
    if (nested) return nested;
  }
  return null;
}

/**
 * DTO validation for every route: unknown fields are stripped (never passed upstream), and the first
 * problem becomes a 400 in the route's envelope with `param` naming the field.
 */
export function validationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    transform: true,
    forbidUnknownValues: false,
    stopAtFirstError: true,
    exceptionFactory: (errors) => {
      const p = firstProblem(errors);
      return ApiError.badRequest(p ? `Invalid request: ${p.message}.` : 'Invalid request body.', p?.param ?? null);
    },
  });
}
