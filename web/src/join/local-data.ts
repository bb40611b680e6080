// The member's own data, which never leaves this page: a CSV file the person picks (numeric
// feature columns and an integer label column), a ratings file (ratings-file.ts), a folder
// of labelled images (images.ts) or the built-in demo shard, generated here from a fixed
// seed so that it is this page's data by construction. Only its description (counts, input
// shape, classes, for ratings the item-id bound) is ever sent, at enrollment.

import type { DatasetDescriptor } from '../../../src/protocol/messages.js';

export interface LocalData {
  name: string;
  /** N × features, row-major. */
  x: Float32Array;
  y: Int32Array;
  /** Values per row: the product of `inputShape`. */
  features: number;
  /** Shape of one row: [features] for tables, [height, width, channels] for images. */
  inputShape: number[];
  classes: number;
  /** The first `train` rows train; the rest are the member's own holdout. */
  train: number;
  /**
   * Set for a ratings file: rows are (user, item) ids with the stars as label, not feature
   * values; item ids lie below `vocabulary`, which enrollment declares, as Node members do.
   */
  ratings?: { users: number; items: number; vocabulary: number };
}

/** Share of the rows kept back for evaluation tasks. */
export const HOLDOUT_SHARE = 0.2;

/** How many of `rows` rows train; the rest are the holdout. */
export const trainRows = (rows: number): number => Math.max(1, Math.round(rows * (1 - HOLDOUT_SHARE)));

/** Uniform numbers in [0, 1) from a 32-bit seed (mulberry32): the same sequence in every browser. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Two Gaussian blobs in the plane, one per class, from a fixed seed (mulberry32). */
export function demoShard(rows = 240, seed = 0x5eed): LocalData {
  const random = seededRandom(seed);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const x = new Float32Array(rows * 2);
  const y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = i % 2;
    y[i] = label;
    x[2 * i] = (label ? 1.5 : -1.5) + 0.8 * gaussian();
    x[2 * i + 1] = (label ? -1 : 1) + 0.8 * gaussian();
  }
  return { name: 'demo shard (2 features, 2 classes)', x, y, features: 2, inputShape: [2], classes: 2, train: Math.round(rows * (1 - HOLDOUT_SHARE)) };
}

/**
 * Parses a CSV with a header row; `label` names the label column (default: the last one).
 * Every other column must be numeric; labels must be integers ≥ 0.
 */
export function parseCsv(text: string, name: string, label?: string): LocalData {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length < 2) throw new Error(`${name}: expected a header row and at least one data row`);
  const columns = lines[0]!.split(',').map((c) => c.trim());
  const labelIndex = label ? columns.indexOf(label) : columns.length - 1;
  if (labelIndex < 0) throw new Error(`${name}: there is no column "${label}" (columns: ${columns.join(', ')})`);
  if (columns.length < 2) throw new Error(`${name}: expected at least one feature column and a label column`);
  const features = columns.length - 1;
  const rows = lines.length - 1;
  const x = new Float32Array(rows * features);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1]!.split(',');
    if (cells.length !== columns.length) throw new Error(`${name}, line ${r + 2}: expected ${columns.length} values, found ${cells.length}`);
    let f = 0;
    cells.forEach((cell, c) => {
      const value = Number(cell.trim());
      if (cell.trim() === '' || !Number.isFinite(value)) throw new Error(`${name}, line ${r + 2}, column "${columns[c]}": expected a number, found "${cell.trim()}"`);
      if (c === labelIndex) {
        if (!Number.isInteger(value) || value < 0) throw new Error(`${name}, line ${r + 2}: label "${columns[c]}" must be an integer ≥ 0, found ${cell.trim()}`);
        y[r] = value;
      } else {
        x[r * features + f++] = value;
      }
    });
  }
  const classes = Math.max(...y) + 1;
  return { name, x, y, features, inputShape: [features], classes: Math.max(classes, 2), train: trainRows(rows) };
}

/** What enrollment tells the coordinator: sizes and shapes only (and for ratings, how far item ids go). */
export function describe(data: LocalData): DatasetDescriptor {
  return {
    name: data.name,
    numExamples: data.train,
    numHoldout: data.y.length - data.train,
    inputShape: [...data.inputShape],
    classes: data.classes,
    ...(data.ratings ? { vocabulary: data.ratings.vocabulary } : {}),
  };
}

/** How many rows carry each label, index = label. */
export function classCounts(data: LocalData): number[] {
  const counts = new Array<number>(data.classes).fill(0);
  for (const label of data.y) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}
