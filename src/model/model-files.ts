// Reads and rewrites the weights of a TensorFlow.js Layers model on disk (model.json +
// binary shards) without TF.js, so tools like `concord fuse` can combine models that
// were exported by Concord or trained anywhere else with the same architecture.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Parameters, type TensorSpec, sizeOf } from '../protocol/tensors.js';

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
}

interface ModelJson {
  weightsManifest: { paths: string[]; weights: WeightEntry[] }[];
  [key: string]: unknown;
}

export async function readModelFiles(dir: string): Promise<{ modelJson: ModelJson; parameters: Parameters }> {
  let text: string;
  try {
    text = await readFile(join(dir, 'model.json'), 'utf8');
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `${dir} is not a TensorFlow.js model directory: cannot read model.json (${(cause as Error).message})`, { details: { field: 'model', received: dir }, cause });
  }
  let modelJson: ModelJson;
  try {
    modelJson = JSON.parse(text) as ModelJson;
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${dir}/model.json is not JSON`, { details: { field: 'model', received: dir }, cause });
  }
  if (!Array.isArray(modelJson.weightsManifest)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${dir}/model.json has no weightsManifest`, { details: { field: 'weightsManifest' } });
  }
  const specs: TensorSpec[] = [];
  const chunks: Float32Array[] = [];
  for (const group of modelJson.weightsManifest) {
    const bytes = Buffer.concat(await Promise.all(group.paths.map((p) => readShard(dir, p))));
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32') {
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `weight ${w.name} is ${w.dtype}; only float32 weights can be fused`, { details: { field: `weights.${w.name}.dtype`, expected: 'float32', received: w.dtype } });
      }
      const n = sizeOf(w.shape);
      if (offset + n * 4 > bytes.length) {
        throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${dir}: weight files end before ${w.name}`, { details: { field: `weights.${w.name}` } });
      }
      chunks.push(new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + n * 4)));
      specs.push({ name: w.name, shape: w.shape });
      offset += n * 4;
    }
  }
  const data = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return { modelJson, parameters: { specs, data } };
}

/** Writes `modelJson`'s topology with new weights in one `weights.bin`. */
export async function writeModelFiles(dir: string, modelJson: ModelJson, parameters: Parameters): Promise<void> {
  await mkdir(dir, { recursive: true });
  const out: ModelJson = {
    ...modelJson,
    weightsManifest: [{ paths: ['weights.bin'], weights: parameters.specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' })) }],
  };
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(parameters.data.buffer, parameters.data.byteOffset, parameters.data.byteLength));
  await writeFile(join(dir, 'model.json'), JSON.stringify(out));
}

async function readShard(dir: string, path: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, path));
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `${dir}/model.json names the weight file ${path}, which cannot be read (${(cause as Error).message})`, { details: { field: 'weightsManifest.paths', received: path }, cause });
  }
}
