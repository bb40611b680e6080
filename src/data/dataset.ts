// The in-memory shape of a labelled dataset that a member trains on, and the small
// operations every loader and partitioner needs. Features are one flat row-major
// Float32Array so that a whole dataset uploads to TF.js as a single tensor.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { DatasetDescriptor } from '../protocol/messages.js';
import { sizeOf } from '../protocol/tensors.js';

export interface Dataset {
  /** N × featureSize values, row-major. */
  x: Float32Array;
  /** N class indices in [0, classes). */
  y: Int32Array;
  /** Shape of one example, e.g. [784] or [28, 28]. */
  inputShape: number[];
  classes: number;
}

/** Anything that can produce a whole dataset: MNIST, a CSV file, later other corpora. */
export interface DatasetSource {
  name: string;
  load(): Promise<Dataset>;
}

/** What one member holds: its training split, its own holdout, and the public description of both. */
export interface MemberData {
  train: Dataset;
  holdout: Dataset;
  descriptor: DatasetDescriptor;
}

export function featureSize(d: Pick<Dataset, 'inputShape'>): number {
  return sizeOf(d.inputShape);
}

/** Throws if the arrays disagree with the shape or a label is out of range. */
export function assertDataset(d: Dataset, field = 'dataset'): void {
  const f = featureSize(d);
  if (d.x.length !== d.y.length * f) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field} has ${d.y.length} labels of ${f} features each but ${d.x.length} feature values`, {
      details: { field: `${field}.x`, expected: d.y.length * f, received: d.x.length },
    });
  }
  for (let i = 0; i < d.y.length; i++) {
    const label = d.y[i]!;
    if (label < 0 || label >= d.classes) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} example ${i} has label ${label}; labels must lie in [0, ${d.classes})`, {
        details: { field: `${field}.y[${i}]`, expected: `0..${d.classes - 1}`, received: label },
      });
    }
  }
}

/** The examples at `indices`, in that order (a copy). */
export function subset(d: Dataset, indices: readonly number[]): Dataset {
  const f = featureSize(d);
  const x = new Float32Array(indices.length * f);
  const y = new Int32Array(indices.length);
  indices.forEach((index, row) => {
    x.set(d.x.subarray(index * f, (index + 1) * f), row * f);
    y[row] = d.y[index]!;
  });
  return { x, y, inputShape: [...d.inputShape], classes: d.classes };
}

/** Number of examples per class. */
export function labelCounts(d: Pick<Dataset, 'y' | 'classes'>): number[] {
  const counts = new Array<number>(d.classes).fill(0);
  for (const label of d.y) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}
