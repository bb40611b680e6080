// preprocessing.json beside an exported model: how to turn a record into the model's inputs
// when the run trained on harmonised preprocessing — the schema it assumes, and per input
// column the field, the transform and its federated constants — readable by anyone without
// Concord.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Preprocessing } from '../protocol/messages.js';

export async function writePreprocessing(dir: string, spec: Preprocessing): Promise<string> {
  const path = join(dir, 'preprocessing.json');
  const doc = {
    description:
      'Model inputs, in this order: for a numeric column, the field in its schema unit (missing: impute), then (x - mean) / std; for an indicator column, 1 when the field equals value, else 0 (missing: impute). Booleans are 1/0.',
    ...spec,
  };
  await writeFile(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}
