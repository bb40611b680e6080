// Harmonised preprocessing: from federated statistics of the input fields (a summary query's
// released values) to one transform per model input column (protocol/messages.ts
// Preprocessing), and applying it to a member's harmonised dataset. Numbers are imputed
// with the federated mean and standardised with the federated mean and std; a category's
// one-hot columns are imputed with the levels' federated frequencies. Every member applies
// the same numbers, so "glucose 0.0" means the consortium's average glucose everywhere.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Preprocessing } from '../../protocol/messages.js';
import { featureLayout } from './harmonise.js';
import { type DataSchema, schemaHash } from './schema.js';

/** The input fields a summary query must describe for the schema's model inputs. */
export function inputFields(schema: DataSchema): string[] {
  return [...new Set(featureLayout(schema).map((c) => c.field))];
}

export function buildPreprocessing(schema: DataSchema, values: readonly { key: string; value: number | null; suppressed?: string }[], queryId: string): Preprocessing {
  const byKey = new Map(values.map((v) => [v.key, v]));
  const problems: string[] = [];
  const need = (key: string): number => {
    const v = byKey.get(key);
    if (!v || v.value === null || !Number.isFinite(v.value)) {
      problems.push(`${key}: ${v?.suppressed ?? 'not released'}`);
      return NaN;
    }
    return v.value;
  };
  const layout = featureLayout(schema);
  const columns: Preprocessing['columns'] = layout.map((c) => {
    if (c.kind === 'numeric') {
      const mean = need(`${c.field}.mean`);
      const std = need(`${c.field}.std`);
      return { kind: 'numeric', field: c.field, mean, std: std > 0 ? std : 1, impute: mean };
    }
    const field = schema.fields.find((f) => f.name === c.field)!;
    const levels = field.type === 'category' ? field.values : [];
    const counts = levels.map((l) => need(`${c.field}=${l}.count`));
    const total = counts.reduce((a, b) => a + Math.max(0, b), 0);
    const own = Math.max(0, counts[levels.indexOf(c.value!)]!);
    return { kind: 'indicator', field: c.field, value: c.value!, impute: total > 0 ? own / total : 0 };
  });
  if (problems.length > 0) {
    throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `harmonised preprocessing needs every input's federated statistics, and these were not released: ${problems.join('; ')}`, { details: { field: 'harmonise', problems } });
  }
  return { schema: { name: schema.name, version: schema.version, hash: schemaHash(schema) }, queryId, columns };
}

export { applyPreprocessing, hasMissingInputs } from '../preprocess.js';
