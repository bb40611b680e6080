// A folder of labelled images as the member's local data: the person picks a folder
// (<input type="file" webkitdirectory>) that holds one subfolder per class, and each image's
// label is its parent folder's name. Class numbers must mean the same thing at every member,
// so folder names must be, or start with, the class number ("7", "3-pneumonia"); names
// like "cats" are refused rather than numbered in some local order. Images are decoded here
// (createImageBitmap), scaled to [0, 1], and never leave the page.

import { seededRandom, trainRows, type LocalData } from './local-data.js';

/** Class folder names: an integer, alone or followed by "-", "_" or a space and a description. */
const CLASS_FOLDER = /^(\d+)(?:[-_ ].*)?$/;

/** Files that operating systems leave in folders, which are no one's images. */
const isJunk = (name: string): boolean => name.startsWith('.') || /^(thumbs\.db|desktop\.ini)$/i.test(name);

/** Rows are shuffled with this seed, so the holdout (the last rows) draws from every class. */
const SHUFFLE_SEED = 0x1a6e5;

interface Decoded {
  path: string;
  label: number;
  width: number;
  height: number;
  /** Red, green and blue bytes of every pixel, row-major; alpha is ignored. */
  rgb: Uint8Array;
}

const pathOf = (file: File): string => file.webkitRelativePath || file.name;

/** The label the folder name gives, or an error naming the folder. */
function classOf(folder: string, path: string): number {
  const match = CLASS_FOLDER.exec(folder);
  const label = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(label)) {
    throw new Error(
      `folder "${folder}" (of ${path}) is not a class number: class folders must be named by an integer ≥ 0, alone or followed by "-", "_" or a space ` +
        `(e.g. "0", "3-pneumonia"), because class numbers must mean the same thing at every member`,
    );
  }
  return label;
}

async function decode(file: File, path: string): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  let bitmap: ImageBitmap;
  try {
    // No colour-space conversion or premultiplication: the pixel values are the file's own.
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (error) {
    throw new Error(`${path} could not be decoded as an image (${(error as Error).message || 'unknown format'}); remove it from the folder or pick another folder`);
  }
  try {
    const { width, height } = bitmap;
    const context = canvas(width, height);
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, width, height).data;
    const rgb = new Uint8Array(width * height * 3);
    for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
      rgb[q] = rgba[p]!;
      rgb[q + 1] = rgba[p + 1]!;
      rgb[q + 2] = rgba[p + 2]!;
    }
    return { width, height, rgb };
  } finally {
    bitmap.close();
  }
}

function canvas(width: number, height: number): OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D {
  let context: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (typeof OffscreenCanvas !== 'undefined') {
    context = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  } else {
    const element = document.createElement('canvas');
    element.width = width;
    element.height = height;
    context = element.getContext('2d', { willReadFrequently: true });
  }
  if (!context) throw new Error('this browser cannot read image pixels (no 2D canvas)');
  return context;
}

/**
 * Reads a picked folder of class subfolders into LocalData: one row per image, pixels
 * row-major as [height, width, channels] scaled to [0, 1], one channel when every image is
 * gray (R = G = B) and three otherwise, rows shuffled with a fixed seed before the holdout
 * split. Errors name the folder or file at fault.
 */
export async function loadImageFolder(files: File[]): Promise<LocalData> {
  const picked = [...files].sort((a, b) => (pathOf(a) < pathOf(b) ? -1 : pathOf(a) > pathOf(b) ? 1 : 0));
  const images: Decoded[] = [];
  const folderOfClass = new Map<number, string>();
  for (const file of picked) {
    const path = pathOf(file);
    const parts = path.split('/');
    // The picked folder's own name does not count: only what is inside it can be junk.
    if ((parts.length > 1 ? parts.slice(1) : parts).some(isJunk)) continue;
    if (parts.length < 3) {
      throw new Error(`${path} sits directly in the picked folder: put each image in a subfolder named by its class number (e.g. 0/, 1/, 2/) and pick the folder that holds those subfolders`);
    }
    const folder = parts[parts.length - 2]!;
    const label = classOf(folder, path);
    const other = folderOfClass.get(label);
    if (other !== undefined && other !== folder) throw new Error(`folders "${other}" and "${folder}" both name class ${label}: one folder per class`);
    folderOfClass.set(label, folder);
    const image = await decode(file, path);
    const first = images[0];
    if (first && (image.width !== first.width || image.height !== first.height)) {
      throw new Error(`${path} is ${image.width}×${image.height} but ${first.path} is ${first.width}×${first.height}: all images must have the same size`);
    }
    images.push({ path, label, ...image });
  }
  if (images.length === 0) {
    throw new Error(files.length === 0 ? 'the picked folder is empty: pick a folder that holds one subfolder of images per class (e.g. 0/, 1/, 2/)' : 'the picked folder holds no images, only hidden files');
  }

  const { width, height } = images[0]!;
  const gray = images.every(({ rgb }) => {
    for (let q = 0; q < rgb.length; q += 3) if (rgb[q] !== rgb[q + 1] || rgb[q] !== rgb[q + 2]) return false;
    return true;
  });
  const channels = gray ? 1 : 3;
  const features = width * height * channels;

  // Fisher–Yates with a fixed seed: the same folder gives the same rows and split every time.
  const order = images.map((_, i) => i);
  const random = seededRandom(SHUFFLE_SEED);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }

  const x = new Float32Array(images.length * features);
  const y = new Int32Array(images.length);
  order.forEach((source, row) => {
    const { rgb, label } = images[source]!;
    y[row] = label;
    const out = row * features;
    if (gray) for (let p = 0; p < width * height; p++) x[out + p] = rgb[p * 3]! / 255;
    else for (let v = 0; v < features; v++) x[out + v] = rgb[v]! / 255;
  });
  const root = images[0]!.path.split('/')[0]!;
  const highest = Math.max(...folderOfClass.keys());
  return {
    name: `${root} (${width}×${height} ${gray ? 'grayscale' : 'RGB'} images)`.slice(0, 200),
    x,
    y,
    features,
    inputShape: [height, width, channels],
    classes: Math.max(2, highest + 1),
    train: trainRows(images.length),
  };
}
