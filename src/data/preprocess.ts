// Applying a run's harmonised preprocessing (protocol/messages.ts Preprocessing) to a
// member's inputs. Free of Node builtins and of the schema machinery, so the browser member
// and the TF.js handler can use it.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Preprocessing } from '../protocol/messages.js';
import type { Dataset } from './dataset.js';

/** The dataset's inputs after the run's preprocessing (a copy); refuses a layout that does not match. */
export function applyPreprocessing(data: Dataset, spec: Preprocessing): Dataset {
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  if (data.inputShape.length !== 1 || width !== spec.columns.length) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the run's preprocessing has ${spec.columns.length} input columns; this member's data has ${width} (inputs of shape [${data.inputShape.join(', ')}])`, {
      details: { field: 'preprocessing.columns', expected: width, received: spec.columns.length },
    });
  }
  const x = new Float32Array(data.x.length);
  for (let i = 0; i < data.x.length; i++) {
    const c = spec.columns[i % width]!;
    const v = data.x[i]!;
    x[i] = c.kind === 'numeric' ? ((Number.isNaN(v) ? c.impute : v) - c.mean) / c.std : Number.isNaN(v) ? c.impute : v;
  }
  return { ...data, x };
}

/** Whether any input is missing (NaN): such data cannot train without preprocessing. */
export function hasMissingInputs(data: Pick<Dataset, 'x'>): boolean {
  for (let i = 0; i < data.x.length; i++) if (Number.isNaN(data.x[i]!)) return true;
  return false;
}
