import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError } from '@app/common';

function firstProblem(errors: ValidationError[], parent = ''): { param: string; message: string } | null {
  for (const e of errors) {
    const path = parent ? `${parent}.${e.property}` : e.property;
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
