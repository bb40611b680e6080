// File times for the build scripts' check "is the output older than any of its sources?".
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Modification time in ms; -1 for a file that does not exist, which is older than anything. */
export function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/** Every path under `dir`, recursively. */
export function filesUnder(dir) {
  return readdirSync(dir, { recursive: true }).map((f) => join(dir, String(f)));
}

/** The time of the newest of `paths`. */
export function newest(paths) {
  return Math.max(...paths.map(mtime));
}
