// Strategy options arrive as untyped JSON (RunConfig.strategy.options). Each strategy
// declares a strict zod schema with documented defaults; bad or unknown options become one
// INVALID_ARGUMENT that lists every problem under `strategy.options.…`, with the option
// that was probably meant.

import type { z } from 'zod';
import { parseWith } from '../protocol/problems.js';

export function parseOptions<S extends z.ZodTypeAny>(strategy: string, schema: S, options: unknown, prefix: readonly string[] = ['strategy', 'options']): z.output<S> {
  return parseWith(schema, options ?? {}, `${strategy} options`, { prefix });
}
