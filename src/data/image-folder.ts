// A member's examples as a folder of labelled images — DIR/<label>/<n>.png — the layout the
// browser member at /join reads (web/src/join/images.ts), so a person can try it with real
// data: `concord data images --data mnist:member=0,members=5 --out digits`. Pixel values in
// [0, 1] become bytes round(255·v); MNIST's are k/255 already, so the browser reads back the
// very values a node trains on.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Dataset, featureSize } from './dataset.js';
import { encodePng } from './png.js';

export interface ImageLayout {
  width: number;
  height: number;
  channels: 1 | 3;
}

/** How an example of `inputShape` is an image: [h, w], [h, w, 1|3], or [n] with n a square (grayscale). */
export function imageLayout(inputShape: readonly number[]): ImageLayout {
  const [a, b, c] = inputShape;
  if (inputShape.length === 1 && Number.isInteger(Math.sqrt(a!))) return { width: Math.sqrt(a!), height: Math.sqrt(a!), channels: 1 };
  if (inputShape.length === 2) return { width: b!, height: a!, channels: 1 };
  if (inputShape.length === 3 && (c === 1 || c === 3)) return { width: b!, height: a!, channels: c };
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `examples of shape [${inputShape.join(', ')}] are not images: expected [h, w], [h, w, 1], [h, w, 3] or [n] with n a square number`, {
    details: { field: 'inputShape', expected: '[h, w], [h, w, 1|3] or [n²]', received: inputShape },
  });
}

/** Writes every example of `datasets` as out/<label>/<n>.png (n counts on across datasets); returns files per class. */
export async function writeImageFolder(datasets: readonly Dataset[], out: string): Promise<number[]> {
  const first = datasets[0];
  if (!first) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'no examples to write', { details: { field: 'datasets', expected: 'at least one dataset' } });
  const layout = imageLayout(first.inputShape);
  const f = featureSize(first);
  const perClass = new Array<number>(first.classes).fill(0);
  for (let label = 0; label < first.classes; label++) await mkdir(join(out, String(label)), { recursive: true });
  for (const data of datasets) {
    if (featureSize(data) !== f) throw new ConcordError(ErrorCode.SHAPE_MISMATCH, 'the datasets disagree on the example shape', { details: { field: 'inputShape', expected: first.inputShape, received: data.inputShape } });
    for (let i = 0; i < data.y.length; i++) {
      const label = data.y[i]!;
      const pixels = new Uint8Array(f);
      for (let p = 0; p < f; p++) pixels[p] = Math.round(255 * Math.min(1, Math.max(0, data.x[i * f + p]!)));
      const n = perClass[label]!++;
      await writeFile(join(out, String(label), `${String(n).padStart(5, '0')}.png`), encodePng(layout.width, layout.height, layout.channels, pixels));
    }
  }
  return perClass;
}
