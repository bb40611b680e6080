import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { imageLayout, writeImageFolder } from './image-folder.js';
import { crc32 } from './png.js';

/** The pixels of a PNG written by encodePng (one IDAT, filter byte 0 per row), checking every chunk's CRC. */
function readPng(bytes: Buffer): { width: number; height: number; colourType: number; pixels: Uint8Array } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  while (at < bytes.length) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    assert.equal(bytes.readUInt32BE(at + 8 + length), crc32(bytes.subarray(at + 4, at + 8 + length)), `${type} CRC`);
    if (type === 'IHDR') header = data;
    if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const width = header!.readUInt32BE(0);
  const height = header!.readUInt32BE(4);
  const channels = header![9] === 0 ? 1 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const pixels = new Uint8Array(width * height * channels);
  for (let row = 0; row < height; row++) {
    assert.equal(raw[row * (width * channels + 1)], 0, 'filter type 0');
    pixels.set(raw.subarray(row * (width * channels + 1) + 1, (row + 1) * (width * channels + 1)), row * width * channels);
  }
  return { width, height, colourType: header![9]!, pixels };
}

test('examples become <label>/<n>.png with their exact pixel values', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'concord-images-'));
  try {
    // 3 examples of a 2×3 grayscale "image" given as [6] features, values k/255, classes 0..2.
    const x = Float32Array.from({ length: 18 }, (_, i) => (i * 13) % 256 / 255);
    const train = { x: x.subarray(0, 12), y: Int32Array.from([2, 0]), inputShape: [6], classes: 3 };
    const holdout = { x: x.subarray(12), y: Int32Array.from([2]), inputShape: [6], classes: 3 };
    assert.throws(() => imageLayout([6]), /not images/, 'six is not a square');
    const square = { ...train, inputShape: [2, 3] };
    const perClass = await writeImageFolder([square, { ...holdout, inputShape: [2, 3] }], dir);
    assert.deepEqual(perClass, [1, 0, 2]);
    assert.deepEqual((await readdir(dir)).sort(), ['0', '1', '2']);
    assert.deepEqual(await readdir(join(dir, '2')), ['00000.png', '00001.png']);
    const second = readPng(await readFile(join(dir, '2', '00001.png')));
    assert.deepEqual({ width: second.width, height: second.height, colourType: second.colourType }, { width: 3, height: 2, colourType: 0 });
    assert.deepEqual([...second.pixels], [...x.subarray(12)].map((v) => Math.round(v * 255)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('image layouts: squares, [h, w], grayscale or RGB; anything else is refused', () => {
  assert.deepEqual(imageLayout([784]), { width: 28, height: 28, channels: 1 });
  assert.deepEqual(imageLayout([4, 5]), { width: 5, height: 4, channels: 1 });
  assert.deepEqual(imageLayout([32, 32, 3]), { width: 32, height: 32, channels: 3 });
  assert.throws(() => imageLayout([32, 32, 2]), /\[32, 32, 2\] are not images/);
  assert.throws(() => imageLayout([10]), /not images/);
});
