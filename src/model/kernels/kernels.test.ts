// Each gradient kernel registered for WebAssembly against the CPU backend's own kernel, on
// random shapes, strides and paddings: first the kernel alone (same inputs, same attributes),
// then the gradients of the public ops (conv2d, conv1d, depthwiseConv2d, separableConv2d,
// gather) that reach it through TF.js' autodiff.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../core/random.js';
import { initBackend } from '../backend.js';
import { registerWasmGradientKernels } from './index.js';

const random = seededRandom(20, 11);
const uniform = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs `fn` on a backend and returns every output's values. */
async function on(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => [fn()].flat().map((t) => t.dataSync() as Float32Array)).map((v) => v.slice());
}

function assertClose(cpu: Float32Array[], wasm: Float32Array[], what: string): void {
  assert.equal(cpu.length, wasm.length);
  cpu.forEach((c, k) => {
    assert.equal(c.length, wasm[k]!.length, `${what}: output ${k} size`);
    // Sums of up to a few hundred float32 products: relative to the magnitude of the result.
    const scale = Math.max(1, ...Array.from(c, Math.abs));
    const worst = c.reduce((m, v, i) => Math.max(m, Math.abs(v - wasm[k]![i]!)), 0);
    assert.ok(worst <= 5e-5 * scale, `${what}: output ${k} differs from the CPU backend by ${worst} (scale ${scale})`);
  });
}

/** A convolution geometry the WASM forward kernels agree with TF.js on: no stride larger than the kernel. */
function geometry(): { x: number[]; k: [number, number]; s: [number, number]; pad: 'same' | 'valid' } {
  const k: [number, number] = [pick([1, 2, 3, 5]), pick([1, 2, 3, 4])];
  const s: [number, number] = [Math.min(k[0], pick([1, 2, 3])), Math.min(k[1], pick([1, 2, 3]))];
  return { x: [pick([1, 2, 3]), k[0] + pick([0, 3, 6]), k[1] + pick([1, 4, 7]), pick([1, 2, 3])], k, s, pad: pick(['same', 'valid'] as const) };
}

before(async () => {
  await initBackend('wasm');
  registerWasmGradientKernels();
});

describe('WASM gradient kernels against the CPU backend', () => {
  it('Conv2DBackpropFilter and the faster Conv2DBackpropInput, alone and as the gradients of conv2d and conv1d', async () => {
    for (let trial = 0; trial < 12; trial++) {
      const g = geometry();
      const out = pick([1, 2, 4]);
      const filterShape: [number, number, number, number] = [g.k[0], g.k[1], g.x[3]!, out];
      const x = uniform(size(g.x));
      const w = uniform(size(filterShape));
      const outShape = tf.tidy(() => tf.conv2d(tf.zeros(g.x as [number, number, number, number]) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, g.s, g.pad).shape) as [number, number, number, number];
      const dy = uniform(size(outShape));
      const kernel = () => tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(x, g.x as [number, number, number, number]), dy: tf.tensor4d(dy, outShape) }, { strides: g.s, pad: g.pad, dataFormat: 'NHWC', filterShape }) as tf.Tensor;
      assertClose(await on('cpu', kernel), await on('wasm', kernel), `kernel ${JSON.stringify(g)}`);
      const inputKernel = () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor4d(dy, outShape), filter: tf.tensor4d(w, filterShape) }, { strides: g.s, pad: g.pad, dataFormat: 'NHWC', inputShape: g.x }) as tf.Tensor;
      assertClose(await on('cpu', inputKernel), await on('wasm', inputKernel), `input kernel ${JSON.stringify(g)}`);
      const grads = () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, g.s, g.pad), tf.tensor4d(dy, outShape))))([tf.tensor4d(x, g.x as [number, number, number, number]), tf.tensor4d(w, filterShape)]);
      assertClose(await on('cpu', grads), await on('wasm', grads), `conv2d gradients ${JSON.stringify(g)}`);
    }
    // Explicit padding wider than the filter (the input kernel's other path).
    for (const [k, s, pad] of [[2, 1, 3], [3, 2, 4], [1, 1, 2]] as const) {
      const xShape: [number, number, number, number] = [2, 6, 5, 3];
      const filterShape: [number, number, number, number] = [k, k, 3, 2];
      const w = uniform(size(filterShape));
      const outShape = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, s, pad).shape) as [number, number, number, number];
      const dy = uniform(size(outShape));
      const inputKernel = () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor4d(dy, outShape), filter: tf.tensor4d(w, filterShape) }, { strides: s, pad, dataFormat: 'NHWC', inputShape: xShape }) as tf.Tensor;
      assertClose(await on('cpu', inputKernel), await on('wasm', inputKernel), `input kernel, explicit padding ${pad} around a ${k}×${k} filter`);
    }
    // Conv1D runs as a Conv2D of height 1.
    const inputs = [uniform(2 * 17 * 5), uniform(3 * 5 * 4)];
    const conv1d = () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv1d(a as tf.Tensor3D, b as tf.Tensor3D, 1, 'same'))))([tf.tensor3d(inputs[0]!, [2, 17, 5]), tf.tensor3d(inputs[1]!, [3, 5, 4])]);
    assertClose(await on('cpu', conv1d), await on('wasm', conv1d), 'conv1d gradients');
  });

  it('DepthwiseConv2dNativeBackpropFilter and …Input, alone and through depthwiseConv2d and separableConv2d', async () => {
    for (let trial = 0; trial < 12; trial++) {
      const g = geometry();
      const multiplier = pick([1, 2]);
      const filterShape: [number, number, number, number] = [g.k[0], g.k[1], g.x[3]!, multiplier];
      const x = uniform(size(g.x));
      const w = uniform(size(filterShape));
      const outShape = tf.tidy(() => tf.depthwiseConv2d(tf.zeros(g.x as [number, number, number, number]) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, g.s, g.pad).shape) as [number, number, number, number];
      const dy = uniform(size(outShape));
      const attrs = { strides: g.s, pad: g.pad, dilations: 1 };
      const filterKernel = () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(x, g.x as [number, number, number, number]), dy: tf.tensor4d(dy, outShape) }, { ...attrs, filterShape }) as tf.Tensor;
      assertClose(await on('cpu', filterKernel), await on('wasm', filterKernel), `filter kernel ${JSON.stringify(g)}`);
      const inputKernel = () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor4d(dy, outShape), filter: tf.tensor4d(w, filterShape) }, { ...attrs, inputShape: g.x }) as tf.Tensor;
      assertClose(await on('cpu', inputKernel), await on('wasm', inputKernel), `input kernel ${JSON.stringify(g)}`);
      const grads = () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, g.s, g.pad), tf.tensor4d(dy, outShape))))([tf.tensor4d(x, g.x as [number, number, number, number]), tf.tensor4d(w, filterShape)]);
      assertClose(await on('cpu', grads), await on('wasm', grads), `depthwiseConv2d gradients ${JSON.stringify(g)}`);
    }
    const x = uniform(2 * 9 * 9 * 3);
    const depthwise = uniform(3 * 3 * 3 * 2);
    const pointwise = uniform(1 * 1 * 6 * 4);
    const separable = () =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(tf.separableConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, 1, 'same'))))([
        tf.tensor4d(x, [2, 9, 9, 3]),
        tf.tensor4d(depthwise, [3, 3, 3, 2]),
        tf.tensor4d(pointwise, [1, 1, 6, 4]),
      ]);
    assertClose(await on('cpu', separable), await on('wasm', separable), 'separableConv2d gradients');
  });

  it('UnsortedSegmentSum, alone and as the gradient of an embedding lookup with repeated tokens', async () => {
    for (const [rows, width, segments] of [[24, 8, 13], [7, 1, 3], [100, 16, 5]] as const) {
      const x = uniform(rows * width);
      const ids = Int32Array.from({ length: rows }, () => Math.floor(random() * segments));
      const kernel = () => tf.engine().runKernel('UnsortedSegmentSum', { x: tf.tensor2d(x, [rows, width]), segmentIds: tf.tensor1d(ids, 'int32') }, { numSegments: segments }) as tf.Tensor;
      assertClose(await on('cpu', kernel), await on('wasm', kernel), `segment sum ${rows}×${width} into ${segments}`);
    }
    const table = uniform(50 * 8);
    const tokens = Int32Array.from({ length: 4 * 6 }, () => Math.floor(random() * 13));
    const embedding = () => tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor2d(tokens, [4, 6], 'int32')))))(tf.tensor2d(table, [50, 8]));
    assertClose(await on('cpu', embedding), await on('wasm', embedding), 'embedding gradient');
  });

  it('the gradient of Max through the argmax equals TF.js\' own where the maximum is unique', async () => {
    const { maxGradient } = await import('./max-gradient.js');
    for (const [shape, axes] of [[[3, 7, 5], [1]], [[4, 6], [0]], [[2, 3, 4], [0, 2]], [[5], [0]], [[2, 3, 4], [-1]]] as const) {
      const x = uniform(size(shape)); // continuous values: ties have probability zero
      const reducedShape = tf.tidy(() => tf.max(tf.zeros([...shape]), [...axes]).shape);
      const dy = uniform(size(reducedShape));
      await tf.setBackend('cpu');
      const ours = tf.tidy(() => maxGradient(tf.tensor(dy, reducedShape), tf.tensor(x, [...shape]), axes).dataSync().slice());
      // TF.js' own rule: dy where x equals the maximum.
      const reference = tf.tidy(() => {
        const m = tf.max(tf.tensor(x, [...shape]), [...axes], true);
        return tf.mul(tf.cast(tf.equal(tf.tensor(x, [...shape]), m), 'float32'), tf.reshape(tf.tensor(dy, reducedShape), m.shape)).dataSync().slice();
      });
      assertClose([reference as Float32Array], [ours as Float32Array], `max gradient ${JSON.stringify(shape)} over ${axes.join(',')}`);
      const grad = () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.max(t, [...axes]), tf.tensor(dy, reducedShape))))(tf.tensor(x, [...shape]));
      assertClose(await on('cpu', grad), await on('wasm', grad), `max gradient through autodiff ${JSON.stringify(shape)}`);
    }
  });

  it('the gradient of Tile as one reshape and sum equals TF.js\' slice-by-slice one', async () => {
    const { tileGradient } = await import('./tile-gradient.js');
    for (const [shape, reps] of [[[1, 1, 5], [3, 4, 1]], [[2, 3], [2, 2]], [[4], [3]], [[2, 1, 3, 1], [1, 2, 2, 3]]] as const) {
      const dy = uniform(size(shape.map((n, i) => n * reps[i]!)));
      const dyShape = shape.map((n, i) => n * reps[i]!);
      await tf.setBackend('cpu');
      const ours = tf.tidy(() => tileGradient(tf.tensor(dy, dyShape), shape, reps).dataSync().slice());
      // The definition, by hand: each element of x receives the sum of dy over its copies.
      const copies = new Float32Array(size(shape));
      const strides = (dims: readonly number[]) => dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
      const [dyStrides, xStrides] = [strides(dyShape), strides(shape)];
      for (let flat = 0; flat < dy.length; flat++) {
        const index = dyShape.map((_, d) => Math.floor(flat / dyStrides[d]!) % dyShape[d]!);
        const at = index.reduce((sum, v, d) => sum + (v % shape[d]!) * xStrides[d]!, 0);
        copies[at] = copies[at]! + dy[flat]!;
      }
      assertClose([copies as Float32Array], [ours as Float32Array], `tile gradient ${JSON.stringify(shape)} × ${JSON.stringify(reps)}`);
    }
  });

  it('Tile, alone, on float32 and int32', async () => {
    for (const [shape, reps] of [[[1, 1, 5], [3, 4, 1]], [[2, 3], [2, 2]], [[4], [3]], [[2, 1, 3, 1], [1, 2, 2, 3]]] as const) {
      const x = uniform(size(shape));
      const floats = () => tf.tile(tf.tensor(x, [...shape]), [...reps]);
      assertClose(await on('cpu', floats), await on('wasm', floats), `tile ${JSON.stringify(shape)} × ${JSON.stringify(reps)}`);
      const ints = () => tf.tile(tf.tensor(Int32Array.from(x, (v) => Math.round(v * 100)), [...shape], 'int32'), [...reps]);
      const [cpu, wasm] = [await on('cpu', ints), await on('wasm', ints)];
      assert.deepEqual(Array.from(wasm[0]!), Array.from(cpu[0]!));
    }
  });

  it('BatchMatMul with transposed operands, ranks 2 and 3, broadcast batches', async () => {
    // [a shape, b shape, transposeA, transposeB]: the product is (m × k) · (k × n) after transposing.
    const cases: [number[], number[], boolean, boolean][] = [
      [[7, 5], [6, 5], false, true],
      [[5, 7], [5, 6], true, false],
      [[5, 7], [6, 5], true, true],
      [[3, 9, 4], [3, 8, 4], false, true],
      [[3, 4, 9], [3, 4, 8], true, false],
      [[1, 4, 9], [3, 8, 4], true, true],
      [[2, 6, 3], [2, 3, 5], false, false],
    ];
    for (const [aShape, bShape, transposeA, transposeB] of cases) {
      const [a, b] = [uniform(size(aShape)), uniform(size(bShape))];
      const product = () => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB);
      assertClose(await on('cpu', product), await on('wasm', product), `matMul ${JSON.stringify(aShape)}${transposeA ? 'ᵀ' : ''} · ${JSON.stringify(bShape)}${transposeB ? 'ᵀ' : ''}`);
    }
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    tf.tidy(() => void tf.matMul(tf.ones([4, 3]), tf.ones([5, 3]), false, true));
    assert.equal(tf.memory().numTensors, before, 'the transposed copies are disposed');
  });

  it('GatherV2 of rows (embedding lookups), other axes, int32 tables, and ids outside the table', async () => {
    const cases: [number[], number[], number][] = [
      [[50, 8], [4, 7], 0],
      [[50, 8], [13], 0],
      [[6, 3, 4], [2, 5], 0],
      [[6, 9], [4], 1],
    ];
    for (const [shape, idShape, axis] of cases) {
      const table = uniform(size(shape));
      const ids = Int32Array.from({ length: size(idShape) }, () => Math.floor(random() * shape[axis]!));
      const rows = () => tf.gather(tf.tensor(table, shape), tf.tensor(ids, idShape, 'int32'), axis);
      const [cpu, wasm] = [await on('cpu', rows), await on('wasm', rows)];
      assert.deepEqual(Array.from(wasm[0]!), Array.from(cpu[0]!), `gather ${JSON.stringify(shape)} by ${JSON.stringify(idShape)} on axis ${axis}`);
    }
    const ints = () => tf.gather(tf.tensor([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32'), tf.tensor([2, 0, 2], [3], 'int32'));
    assert.deepEqual(Array.from((await on('wasm', ints))[0]!), [5, 6, 1, 2, 5, 6]);
    await tf.setBackend('wasm');
    for (const id of [3, -1]) {
      assert.throws(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor([0, id], [2], 'int32')).dataSync()), new RegExp(`index value ${id} is not in \\[0, 2\\]`));
    }
  });

  it('MaxPoolGrad, alone (ties included) and as the gradient of maxPool2d, on random windows, strides and paddings', async () => {
    for (let trial = 0; trial < 12; trial++) {
      const f: [number, number] = [pick([1, 2, 3]), pick([2, 3])];
      const s: [number, number] = [pick([1, 2, 3]), pick([1, 2])];
      const shape: [number, number, number, number] = [pick([1, 2, 3]), f[0] + pick([0, 2, 5]), f[1] + pick([1, 3, 6]), pick([1, 2, 5])];
      const pad = pick(['same', 'valid'] as const);
      // Every other trial on a few levels only: windows with several maxima, where the first (row-major) one takes dy.
      const x = trial % 2 === 0 ? uniform(size(shape)) : Float32Array.from(uniform(size(shape)), (v) => Math.round(v * 2) / 2);
      const outShape = tf.tidy(() => tf.maxPool(tf.zeros(shape) as tf.Tensor4D, f, s, pad).shape) as [number, number, number, number];
      const dy = uniform(size(outShape));
      const kernel = () => {
        const input = tf.tensor4d(x, shape);
        const output = tf.maxPool(input, f, s, pad);
        return tf.engine().runKernel('MaxPoolGrad', { dy: tf.tensor4d(dy, outShape), input, output }, { filterSize: f, strides: s, pad }) as tf.Tensor;
      };
      assertClose(await on('cpu', kernel), await on('wasm', kernel), `kernel ${JSON.stringify({ shape, f, s, pad, ties: trial % 2 === 1 })}`);
      const grad = () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, f, s, pad), tf.tensor4d(dy, outShape))))(tf.tensor4d(x, shape));
      assertClose(await on('cpu', grad), await on('wasm', grad), `maxPool gradient ${JSON.stringify({ shape, f, s, pad })}`);
    }
  });

  it('Slice, SplitV and Unpack (and their gradients) on ranks 1 to 5, float32, int32 and bool', async () => {
    for (let trial = 0; trial < 30; trial++) {
      const rank = 1 + (trial % 5);
      const shape = Array.from({ length: rank }, () => pick([1, 2, 3, 5]));
      const begin = shape.map((n) => Math.floor(random() * n));
      const extent = shape.map((n, d) => (random() < 0.3 ? -1 : 1 + Math.floor(random() * (n - begin[d]!))));
      const values = uniform(size(shape));
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const make = () => (dtype === 'float32' ? tf.tensor(values, shape) : dtype === 'int32' ? tf.tensor(Int32Array.from(values, (v) => Math.round(v * 9)), shape, 'int32') : tf.tensor(Int32Array.from(values, (v) => (v > 0 ? 1 : 0)), shape, 'bool'));
        const sliced = () => tf.slice(make(), begin, extent);
        assertClose(await on('cpu', sliced), await on('wasm', sliced), `slice ${JSON.stringify({ shape, begin, extent, dtype })}`);
        const axis = Math.floor(random() * rank);
        const unstacked = () => tf.unstack(make(), axis);
        assertClose(await on('cpu', unstacked), await on('wasm', unstacked), `unstack ${JSON.stringify({ shape, axis, dtype })}`);
        const first = Math.floor(random() * (shape[axis]! + 1));
        const split = () => tf.split(make(), [first, shape[axis]! - first], axis);
        assertClose(await on('cpu', split), await on('wasm', split), `split ${JSON.stringify({ shape, axis, first, dtype })}`);
      }
      // (TF.js' own gradient of an Unpack with one output fails on every backend: unstacked along an axis of 2 or more.)
      const along = shape.findIndex((n) => n > 1);
      const unstackTerm = (t: tf.Tensor) => (along < 0 ? tf.scalar(0) : tf.sum(tf.stack(tf.unstack(t, along).map((u, i) => tf.mul(u, i + 1)))));
      const grads = () => tf.grad((t: tf.Tensor) => tf.add(tf.sum(tf.square(tf.slice(t, begin, extent))), unstackTerm(t)))(tf.tensor(values, shape));
      assertClose(await on('cpu', grads), await on('wasm', grads), `gradients ${JSON.stringify({ shape, begin, extent })}`);
    }
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    tf.tidy(() => void tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([tf.ones([2, 8, 8, 3]), tf.ones([3, 3, 3, 4])]));
    tf.tidy(() => void tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, tf.tensor1d([1, 1, 2], 'int32'))))(tf.ones([4, 3])));
    tf.tidy(() => void tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, 'same')))(tf.ones([2, 5, 5, 3])));
    tf.tidy(() => void tf.grad((t: tf.Tensor) => tf.sum(tf.stack([...tf.unstack(t, 1), ...tf.split(t, [1, 2], 1), tf.slice(t, [0, 1], [2, 1])].map((u) => tf.sum(u)))))(tf.ones([2, 3])));
    tf.tidy(() => void tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([tf.ones([1, 7, 7, 2]), tf.ones([3, 3, 2, 2])]));
    assert.equal(tf.memory().numTensors, before);
  });
});
