// Strategy options arrive as untyped JSON (RunConfig.strategy.options). Each strategy
// declares a strict zod schema with documented defaults; a bad or unknown option becomes
// an INVALID_ARGUMENT that names it.

import type { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

export function parseOptions<S extends z.ZodTypeAny>(strategy: string, schema: S, options: unknown): z.output<S> {
  const result = schema.safeParse(options ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const known = schema instanceof Object && 'shape' in schema ? Object.keys((schema as unknown as z.AnyZodObject).shape) : [];
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${strategy} has no option "${key}"; its options are: ${known.join(', ') || '(none)'}`, {
      details: { field: `strategy.options.${key}`, expected: known, received: key },
    });
  }
  const field = ['strategy', 'options', ...issue.path].join('.');
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${strategy}: ${field}: ${issue.message}`, {
    details: { field, expected: issue.message, received: issue.path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], options) },
  });
}
