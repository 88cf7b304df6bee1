import { ValidateBy, type ValidationOptions } from 'class-validator';

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text an upstream can take: no NUL (Postgres cannot store it in the job row either) and no lone UTF-16
 * surrogate (not Unicode; upstreams refuse it or turn it into U+FFFD).
 */
export function IsSafeText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isSafeText',
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || (!v.includes('\u0000') && !LONE_SURROGATE.test(v)),
        defaultMessage: (args) => `${args?.property ?? 'text'} must not contain NUL characters or lone UTF-16 surrogates`,
      },
    },
    options,
  );
}

